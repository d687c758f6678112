"""A coordinator's day without dead ends (issue 16, items 2 and 3): the summary follows its evidence,
one gate decides readiness, tasks open and close with their reasons, a clinician's answer moves the case."""

import json
from io import StringIO

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from cases import actions, documents
from cases.detection import case_open_for_order
from cases.models import CaseEvent, RequirementStatus, Status, Task
from cases.readiness import case_reconcile
from cases.services import ActionRefused
from payers.models import WhoCloses
from tests import factories as f


@pytest.fixture
def gathering(case, owner_clinician, settings, tmp_path):
    """A gathering case with one coordinator gap (an office note) and one met lab, its draft summary and tasks."""
    settings.MEDIA_ROOT = tmp_path
    rule = f.PayerRuleFactory(payer=case.payer, criteria_reference="POL-7")
    note = f.RequirementFactory(rule=rule, description="Office note within 30 days", position=1)
    lab = f.RequirementFactory(rule=rule, kind="lab", description="HbA1c within 90 days", position=2)
    case.rule = rule
    case.status = Status.GATHERING
    case.save()
    gap = RequirementStatus.objects.create(case=case, requirement=note, state=RequirementStatus.State.GAP)
    RequirementStatus.objects.create(
        case=case,
        requirement=lab,
        state="met",
        evidence=[{"resource": "Observation/1", "date": "2026-01-05", "value": "7.9 %"}],
    )
    case_reconcile(case=case)
    case.refresh_from_db()
    return case, gap


def test_the_draft_and_the_missing_task_follow_a_document_that_meets_the_gap(gathering, coordinator):
    case, gap = gathering
    # given the draft names the gap and the coordinator has its task
    assert "Still missing: Office note within 30 days." in case.summary_text
    (missing,) = case.tasks.open().filter(kind=Task.Kind.CLOSE_GAP)
    assert missing.title == "Missing: Office note within 30 days"
    # when the note is uploaded against that gap
    documents.document_upload(
        case=case,
        actor=coordinator,
        file=SimpleUploadedFile("n.pdf", f.PDF_BYTES, "application/pdf"),
        title="Office note 2026-01-10",
        requirement_status=gap,
    )
    # then the draft no longer claims it is missing, the task closed itself with a timeline line,
    # and the case waits for the clinician's attestation, who has the task
    case.refresh_from_db()
    assert "Still missing" not in case.summary_text and "Office note 2026-01-10" in case.summary_text
    missing.refresh_from_db()
    assert missing.done_at is not None
    assert case.events.filter(message="Closed: Missing: Office note within 30 days (requirement met)").exists()
    assert case.status == Status.NEEDS_CLINICIAN
    (attest,) = case.tasks.open().filter(kind=Task.Kind.ATTEST_SUMMARY)
    assert attest.assignee == case.order.ordering_provider.user


def test_a_reopened_gap_clears_the_attestation_and_takes_a_ready_case_back(gathering, coordinator, owner_clinician):
    case, gap = gathering
    actions.case_resolve_gap(case=case, requirement_status=gap, actor=coordinator, note="In the chart")
    actions.case_attest_summary(case=case, actor=owner_clinician)
    case.refresh_from_db()
    assert case.status == Status.READY and case.summary_is_attested
    # when the EHR re-read finds the gap open again
    RequirementStatus.objects.filter(pk=gap.pk).update(state=RequirementStatus.State.GAP)
    case_reconcile(case=case)
    # then the draft says so again, the attestation is gone, the case is back to gathering with a fresh task
    case.refresh_from_db()
    assert case.status == Status.GATHERING and not case.summary_is_attested
    assert "Still missing: Office note within 30 days." in case.summary_text
    assert case.tasks.open().filter(kind=Task.Kind.CLOSE_GAP).count() == 1
    assert not case.tasks.open().filter(kind=Task.Kind.ATTEST_SUMMARY).exists()


def test_resolve_never_makes_a_case_ready_without_an_attested_summary(gathering, coordinator):
    case, gap = gathering
    actions.case_resolve_gap(case=case, requirement_status=gap, actor=coordinator)
    case.refresh_from_db()
    assert case.status == Status.NEEDS_CLINICIAN
    with pytest.raises(ActionRefused, match="ready can be submitted; this one is 'Needs clinician'"):
        actions.case_submit(case=case, actor=coordinator)
    assert case.tasks.open().filter(kind=Task.Kind.ATTEST_SUMMARY).exists()


def test_a_clinician_owned_gap_gives_the_clinician_a_task_and_the_answer_returns_to_the_coordinator(
    case, owner_clinician, coordinator
):
    # given a gathering case, assigned to a coordinator, whose one gap only the clinician can close
    rule = f.PayerRuleFactory(payer=case.payer)
    req = f.RequirementFactory(rule=rule, kind="therapy", description="6 weeks of PT", who_closes=WhoCloses.CLINICIAN)
    case.rule, case.status, case.assignee = rule, Status.GATHERING, coordinator
    case.save()
    gap = RequirementStatus.objects.create(case=case, requirement=req)
    case_reconcile(case=case)
    (ask,) = case.tasks.open().filter(kind=Task.Kind.CLINICIAN_INPUT)
    assert ask.assignee == owner_clinician and ask.title == "Clinical input: 6 weeks of PT"
    case.refresh_from_db()
    assert case.status == Status.NEEDS_CLINICIAN  # the question is out with the clinician
    # when the clinician answers through the task's Done
    actions.task_complete(task=ask, actor=owner_clinician, answer="PT Jan 4 to Feb 20 at Riverside Rehab")
    # then the answer is on the timeline, the coordinator has a task to act on it, and no new question is asked
    case.refresh_from_db()
    assert case.events.filter(kind=CaseEvent.Kind.NOTE, message__contains="PT Jan 4 to Feb 20").exists()
    (review,) = case.tasks.open().filter(kind=Task.Kind.REVIEW_ANSWER)
    assert review.assignee == coordinator and "PT Jan 4 to Feb 20" in review.detail
    assert not case.tasks.open().filter(kind=Task.Kind.CLINICIAN_INPUT).exists()
    assert case.status == Status.GATHERING
    # when the coordinator resolves the gap with it, the review task closes itself
    actions.case_resolve_gap(case=case, requirement_status=gap, actor=coordinator, note="PT dates from Dr.")
    review.refresh_from_db()
    assert review.done_at is not None


def test_a_question_answered_moves_the_case_out_of_needs_clinician(case, coordinator, owner_clinician):
    # given a gathering case with nothing missing but an attested summary, and a question to the clinician
    case.status, case.assignee = Status.GATHERING, coordinator
    case.save()
    f.gate_met(case, owner_clinician)
    task = actions.case_request_clinician_input(case=case, actor=coordinator, question="Was PT completed?")
    case.refresh_from_db()
    assert case.status == Status.NEEDS_CLINICIAN
    # when the clinician clicks Done on the case page with an answer
    c = Client()
    c.force_login(owner_clinician)
    c.post(reverse("cases:task_complete", args=[task.pk]), {"note": "Yes, 8 weeks", "from": "case"})
    # then the case moves on by itself (nothing else blocks it) and the coordinator reviews the answer
    case.refresh_from_db()
    assert case.status == Status.READY
    assert case.tasks.open().filter(kind=Task.Kind.REVIEW_ANSWER, assignee=coordinator).exists()


def test_staff_edit_the_summary_which_clears_the_attestation(client, gathering, coordinator, owner_clinician):
    case, gap = gathering
    actions.case_resolve_gap(case=case, requirement_status=gap, actor=coordinator)
    actions.case_attest_summary(case=case, actor=owner_clinician)
    case.refresh_from_db()
    assert case.status == Status.READY
    client.force_login(coordinator)
    response = client.post(reverse("cases:update_summary", args=[case.pk]), {"text": "Our own words."}, follow=True)
    assert "It needs the clinician&#x27;s attestation again" in response.content.decode()
    case.refresh_from_db()
    assert case.summary_text == "Our own words." and case.summary_source == "staff"
    assert not case.summary_is_attested and case.status == Status.NEEDS_CLINICIAN
    # an empty text is refused with a message, not a 500
    response = client.post(reverse("cases:update_summary", args=[case.pk]), {"text": "   "}, follow=True)
    assert response.status_code == 200 and "Summary: This field is required." in response.content.decode()


def test_summary_edit_refused_once_the_payer_has_it(case, coordinator):
    case.status = Status.SUBMITTED
    case.save()
    with pytest.raises(ActionRefused, match="with the payer already"):
        actions.case_update_summary(case=case, actor=coordinator, text="Later words")


def test_only_the_ordering_clinician_or_a_delegate_attests(case, other_clinician, owner_clinician):
    case.status = Status.NEEDS_CLINICIAN
    case.summary_text = "Text."
    case.save()
    with pytest.raises(ActionRefused, match="or their delegate"):
        actions.case_attest_summary(case=case, actor=other_clinician)
    case.order.ordering_provider.delegates.add(other_clinician)
    actions.case_attest_summary(case=case, actor=other_clinician)
    case.refresh_from_db()
    assert case.summary_is_attested


def test_a_new_case_starts_with_named_work(practice, owner_provider, owner_clinician):
    # given an order whose rule has a documentation requirement
    payer = f.PayerFactory()
    rule = f.PayerRuleFactory(payer=payer, code="70551")
    f.RequirementFactory(rule=rule, description="Office note within 30 days")
    patient = f.PatientFactory(practice=practice)
    f.CoverageFactory(patient=patient, payer=payer)
    order = f.OrderFactory(practice=practice, patient=patient, ordering_provider=owner_provider, code="70551")
    # when detection opens its case
    case = case_open_for_order(order=order)
    case.refresh_from_db()
    # then the gap has its coordinator task and the summary its first draft
    assert case.status == Status.GATHERING
    assert case.tasks.open().filter(title="Missing: Office note within 30 days").exists()
    assert "Still missing: Office note within 30 days." in case.summary_text


def test_reconcile_cases_moves_cases_stuck_before_the_gate(case, owner_clinician):
    # given a gathering case written before the gate: every requirement met, no summary, no task
    from django.core.management import call_command

    rule = f.PayerRuleFactory(payer=case.payer)
    RequirementStatus.objects.create(case=case, requirement=f.RequirementFactory(rule=rule), state="met")
    case.rule, case.status = rule, Status.GATHERING
    case.save()
    # when the command runs (twice: it is idempotent)
    out = StringIO()
    call_command("reconcile_cases", "--json", stdout=out)
    call_command("reconcile_cases", stdout=StringIO())
    # then the case waits for its clinician's attestation of a fresh draft, with exactly one task for it
    case.refresh_from_db()
    assert json.loads(out.getvalue()) == {"gathering -> needs_clinician": 1}
    assert case.status == Status.NEEDS_CLINICIAN and case.summary_text
    assert case.tasks.open().filter(kind=Task.Kind.ATTEST_SUMMARY, assignee=owner_clinician).count() == 1


def test_a_clinicians_answer_to_the_payers_request_goes_to_the_coordinator(case, coordinator, owner_clinician):
    # given a case the payer pended, whose question went to the ordering clinician
    case.status, case.assignee = Status.SUBMITTED, coordinator
    case.save()
    actions.case_record_outcome(case=case, actor=coordinator, outcome="pended", note="Send the MRI report")
    (ask,) = case.tasks.open().filter(kind=Task.Kind.ANSWER_INFO_REQUEST)
    assert ask.assignee == owner_clinician
    # when the clinician answers with Done
    actions.task_complete(task=ask, actor=owner_clinician, answer="MRI of 2026-10-02 attached to the chart")
    # then the coordinator has the task of sending it to the payer, with the answer
    (send,) = case.tasks.open().filter(kind=Task.Kind.REVIEW_ANSWER)
    assert send.assignee == coordinator and send.title.startswith(f"Send the clinician's answer to {case.payer}")
    assert "MRI of 2026-10-02" in send.detail
    assert case.events.filter(message__contains="MRI of 2026-10-02 attached").exists()
