"""The case-page services: state checks, timeline lines, tasks."""

import datetime as dt

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from cases import actions, documents
from cases import services as s
from cases.models import CaseEvent, RequirementStatus, Status, Task
from cases.transitions import InvalidTransition
from integrations.submission.models import Submission
from tests import factories as f


@pytest.fixture
def ready_case(case, owner_clinician):
    case.status = Status.READY
    case.save(update_fields=["status"])
    return f.gate_met(case, owner_clinician)


def test_submit_needs_manager_approval_when_the_practice_requires_it(ready_case, coordinator, manager):
    # given a practice that requires approval (the default) and a ready case
    # when a coordinator submits before approval, then it is refused
    with pytest.raises(s.ActionRefused, match="approve"):
        actions.case_submit(case=ready_case, actor=coordinator)
    # when the manager approves, then the submit records the request (waiting with staff on this portal
    # payer), gives the coordinator the task of sending it, and the case stays ready until the payer has it
    actions.case_approve_submission(case=ready_case, actor=manager)
    submission = actions.case_submit(case=ready_case, actor=coordinator)
    ready_case.refresh_from_db()
    assert submission.state == Submission.State.WITH_STAFF and submission.channel == "portal"
    task = ready_case.tasks.get(kind=Task.Kind.SUBMIT)
    assert task.is_open and submission.idempotency_key in task.detail
    assert ready_case.status == Status.READY
    assert ready_case.submission_approved_by == manager
    assert ready_case.events.filter(kind=CaseEvent.Kind.SUBMISSION).count() == 1
    assert ready_case.events.filter(kind=CaseEvent.Kind.APPROVAL).count() == 1
    # and a second submit gives the same request back rather than queueing it twice
    assert actions.case_submit(case=ready_case, actor=coordinator) == submission
    assert ready_case.tasks.filter(kind=Task.Kind.SUBMIT).count() == 1


def test_submit_without_approval_when_the_practice_does_not_require_it(ready_case, coordinator):
    ready_case.practice.submission_requires_approval = False
    ready_case.practice.save()
    assert actions.case_submit(case=ready_case, actor=coordinator).state == Submission.State.WITH_STAFF
    assert ready_case.tasks.filter(kind=Task.Kind.SUBMIT, done_at__isnull=True).exists()


def test_submit_refuses_an_unattested_summary(ready_case, coordinator):
    ready_case.practice.submission_requires_approval = False
    ready_case.practice.save()
    ready_case.summary_text = "Drafted summary, changed after the attestation"
    ready_case.save()
    with pytest.raises(s.ActionRefused, match="Summary attestation by Dr"):
        actions.case_submit(case=ready_case, actor=coordinator)
    # and the case goes back to wait for the clinician, who gets the task
    ready_case.refresh_from_db()
    assert ready_case.status == Status.NEEDS_CLINICIAN
    assert ready_case.tasks.open().filter(kind=Task.Kind.ATTEST_SUMMARY).count() == 1


def test_approval_refused_unless_ready(case, manager):
    case.status = Status.GATHERING
    case.save()
    with pytest.raises(s.ActionRefused):
        actions.case_approve_submission(case=case, actor=manager)


def test_record_approval_after_a_manual_submission(ready_case, coordinator, manager):
    # given a ready case whose submission was requested
    actions.case_approve_submission(case=ready_case, actor=manager)
    actions.case_submit(case=ready_case, actor=coordinator)
    # when the coordinator records the portal's approval
    actions.case_record_outcome(
        case=ready_case,
        actor=coordinator,
        outcome="approved",
        authorization_number="AUTH-123",
        effective_start=dt.date(2026, 1, 1),
        effective_end=dt.date(2026, 3, 31),
        units_approved=1,
    )
    # then the case went ready → submitted → approved with the decision fields, and the submit task is done
    ready_case.refresh_from_db()
    assert ready_case.status == Status.APPROVED
    assert ready_case.authorization_number == "AUTH-123"
    assert ready_case.auth_effective_end == dt.date(2026, 3, 31)
    moves = list(ready_case.events.filter(kind=CaseEvent.Kind.STATUS).values_list("to_status", flat=True))
    assert moves[:2] == [Status.APPROVED, Status.SUBMITTED]
    assert not ready_case.tasks.open().filter(kind=Task.Kind.SUBMIT).exists()


def test_record_outcome_before_submission_is_refused(ready_case, coordinator):
    with pytest.raises(s.ActionRefused, match="Submit"):
        actions.case_record_outcome(case=ready_case, actor=coordinator, outcome="denied", denial_reason_text="No")


@pytest.mark.parametrize(
    ("outcome", "kwargs", "message"),
    [
        ("approved", {}, "authorization number"),
        ("denied", {}, "reason"),
        ("pended", {}, "asked"),
        ("bogus", {}, "outcome"),
    ],
)
def test_record_outcome_validates_what_each_outcome_needs(case, coordinator, outcome, kwargs, message):
    case.status = Status.SUBMITTED
    case.save()
    with pytest.raises(s.ActionRefused, match=message):
        actions.case_record_outcome(case=case, actor=coordinator, outcome=outcome, **kwargs)
    case.refresh_from_db()
    assert case.status == Status.SUBMITTED


def test_denial_sets_the_appeal_deadline_and_a_denial_task(case, coordinator):
    case.status = Status.SUBMITTED
    case.save()
    actions.case_record_outcome(
        case=case, actor=coordinator, outcome="denied", denial_reason_code="CO-197", denial_reason_text="No auth"
    )
    case.refresh_from_db()
    assert case.status == Status.DENIED
    assert case.appeal_deadline is not None
    task = case.tasks.get(kind=Task.Kind.WORK_DENIAL)
    assert task.due_at.date() <= case.appeal_deadline


def test_pended_asks_the_ordering_clinician(case, coordinator, owner_clinician):
    case.status = Status.SUBMITTED
    case.save()
    actions.case_record_outcome(case=case, actor=coordinator, outcome="pended", note="Send the MRI report")
    task = case.tasks.get(kind=Task.Kind.ANSWER_INFO_REQUEST)
    assert task.assignee == owner_clinician and "The payer's request, as sent:\nSend the MRI report" in task.detail


def test_clinician_input_then_attestation_makes_the_case_ready(case, coordinator, owner_clinician):
    # given a gathering case with a drafted summary and no gaps
    case.status = Status.GATHERING
    case.summary_text = "Patient meets criteria."
    case.save()
    # when input is requested, the case waits for the clinician
    task = actions.case_request_clinician_input(case=case, actor=coordinator, question="Confirm PT dates?")
    case.refresh_from_db()
    assert case.status == Status.NEEDS_CLINICIAN and task.assignee == owner_clinician
    # when the clinician answers and attests, the case becomes ready
    actions.task_complete(task=task, actor=owner_clinician, answer="PT 6 weeks, Jan to Feb")
    case.refresh_from_db()
    assert case.status == Status.NEEDS_CLINICIAN  # summary still unattested
    actions.case_attest_summary(case=case, actor=owner_clinician)
    case.refresh_from_db()
    assert case.status == Status.READY
    assert case.summary_is_attested and case.summary_attested_by == owner_clinician
    with pytest.raises(s.ActionRefused):
        actions.case_attest_summary(case=case, actor=owner_clinician)


def test_resolving_the_last_gap_waits_for_a_fresh_attestation_then_is_ready(case, coordinator, owner_clinician):
    # given a gathering case with two gaps and a summary the clinician attested before they were closed
    case.status = Status.GATHERING
    case.save()
    f.gate_met(case, owner_clinician)
    gap1 = f.RequirementStatusFactory(case=case)
    gap2 = f.RequirementStatusFactory(case=case, requirement__description="HbA1c within 90 days")
    actions.case_resolve_gap(case=case, requirement_status=gap1, actor=coordinator, note="Checked chart")
    case.refresh_from_db()
    assert case.status == Status.GATHERING
    # when the last gap is resolved
    actions.case_resolve_gap(case=case, requirement_status=gap2, actor=coordinator)
    # then the evidence changed under the attestation: the case waits for the clinician (never ready unattested)
    case.refresh_from_db()
    gap1.refresh_from_db()
    assert case.status == Status.NEEDS_CLINICIAN and not case.summary_is_attested
    assert gap1.state == RequirementStatus.State.WAIVED and gap1.resolved_by == coordinator
    (attest_task,) = case.tasks.open().filter(kind=Task.Kind.ATTEST_SUMMARY)
    assert attest_task.assignee == owner_clinician
    # when the clinician attests, the case is ready and the attestation task closed itself
    actions.case_attest_summary(case=case, actor=owner_clinician)
    case.refresh_from_db()
    assert case.status == Status.READY
    attest_task.refresh_from_db()
    assert attest_task.done_at is not None
    with pytest.raises(s.ActionRefused):
        actions.case_resolve_gap(case=case, requirement_status=gap1, actor=coordinator)


def test_escalate_and_cancel(case, coordinator):
    case.status = Status.GATHERING
    case.save()
    f.TaskFactory(case=case)
    task = actions.case_escalate(case=case, actor=coordinator, reason="Payer unreachable")
    assert task.role == "manager"
    with pytest.raises(s.ActionRefused):
        actions.case_cancel(case=case, actor=coordinator, reason="  ")
    actions.case_cancel(case=case, actor=coordinator, reason="Order withdrawn")
    case.refresh_from_db()
    assert case.status == Status.CANCELLED
    assert not case.tasks.open().exists()
    with pytest.raises(InvalidTransition):
        actions.case_cancel(case=case, actor=coordinator, reason="again")


@pytest.mark.parametrize(
    ("content", "declared", "ok"),
    [
        (f.PDF_BYTES, "application/pdf", True),
        (f.PNG_BYTES, "image/png", True),
        (f.JPEG_BYTES, "application/octet-stream", True),
        (b"<html><script>alert(1)</script>", "application/pdf", False),  # declared PDF, is not
        (f.PDF_BYTES, "image/png", False),  # mismatch
        (b"PK\x03\x04zipfile", "application/zip", False),
        (b"", "application/pdf", False),
    ],
)
def test_upload_checks_the_bytes_not_the_declared_type(case, coordinator, settings, tmp_path, content, declared, ok):
    settings.MEDIA_ROOT = tmp_path
    upload = SimpleUploadedFile("Jane Doe MRI.pdf", content, content_type=declared)
    if ok:
        doc = documents.document_upload(case=case, actor=coordinator, file=upload, title="MRI report")
        assert doc.file.name.startswith(f"cases/{case.pk}/") and "Jane" not in doc.file.name
        assert doc.size_bytes == len(content)
    else:
        with pytest.raises(s.ActionRefused):
            documents.document_upload(case=case, actor=coordinator, file=upload)
        assert not case.documents.exists()


def test_upload_size_cap_and_gap_closing(case, coordinator, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    settings.DOCUMENT_MAX_BYTES = 100
    with pytest.raises(s.ActionRefused, match="larger"):
        documents.document_upload(
            case=case, actor=coordinator, file=SimpleUploadedFile("a.pdf", f.PDF_BYTES + b"x" * 200, "application/pdf")
        )
    gap = f.RequirementStatusFactory(case=case)
    doc = documents.document_upload(
        case=case,
        actor=coordinator,
        file=SimpleUploadedFile("a.pdf", f.PDF_BYTES, "application/pdf"),
        requirement_status=gap,
    )
    gap.refresh_from_db()
    assert gap.state == RequirementStatus.State.MET
    assert gap.evidence[0]["resource"] == f"Document/{doc.pk}"
