"""Appealing a denial: the drafted letter, filing it, its deadline and tasks, on the case page."""

import datetime as dt

import pytest
import time_machine
from django.urls import reverse

from cases import actions
from cases import services as s
from cases.appeals import appeal_letter_draft, case_file_appeal
from cases.models import CaseEvent, Document, PriorAuthCase, RequirementStatus, Status, Task, Urgency
from tests import factories as f

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 23, 15, 0, tzinfo=dt.UTC)


@pytest.fixture
def denied(case, coordinator, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    f.CoverageFactory(patient=case.patient, payer=case.payer, member_id="MBR-4411")
    met = f.RequirementStatusFactory(
        case=case,
        requirement=f.RequirementFactory(description="Lumbar MRI within 90 days"),
        state=RequirementStatus.State.MET,
        evidence=[{"resource": "DiagnosticReport/9", "date": "2026-10-02", "value": "MRI L-spine: L4-5 herniation"}],
    )
    gap = f.RequirementStatusFactory(
        case=case, requirement=f.RequirementFactory(description="Physical therapy 6 weeks"), state="gap"
    )
    PriorAuthCase.objects.filter(pk=case.pk).update(
        status=Status.SUBMITTED,
        summary_text="Radicular pain despite 8 weeks of therapy.",
        summary_attested_text="Radicular pain despite 8 weeks of therapy.",
        payer_tracking_id="HMA-778",
    )
    case.refresh_from_db()
    with time_machine.travel(NOW - dt.timedelta(days=2), tick=False):
        actions.case_record_outcome(
            case=case,
            actor=coordinator,
            outcome="denied",
            denial_reason_code="MN01",
            denial_reason_text="Conservative therapy not documented",
        )
    case.refresh_from_db()
    assert case.status == Status.DENIED
    case.met, case.gap = met, gap
    return case


def test_the_draft_is_written_from_the_denial_and_the_packet(denied):
    letter = appeal_letter_draft(denied)
    order, patient = denied.order, denied.patient
    # the payer can find the request and the member
    assert "prior authorization HMA-778" in letter
    assert f"{patient.first_name} {patient.last_name}, born {patient.birth_date:%m/%d/%Y}, member id MBR-4411" in letter
    assert f"CPT {order.code} {order.description}" in letter
    assert f"NPI {order.ordering_provider.npi}" in letter
    # it answers the reason with the evidence, and marks what is still missing
    assert "The reason given: MN01 Conservative therapy not documented." in letter
    assert "- Lumbar MRI within 90 days: met – MRI L-spine: L4-5 herniation (2026-10-02)" in letter
    assert "- Physical therapy 6 weeks: [add the documentation" in letter
    assert "Radicular pain despite 8 weeks of therapy." in letter
    assert "expedited review" not in letter


def test_an_expedited_case_asks_for_an_expedited_review(denied):
    PriorAuthCase.objects.filter(pk=denied.pk).update(urgency=Urgency.EXPEDITED)
    denied.refresh_from_db()
    assert "we request an expedited review" in appeal_letter_draft(denied)


@pytest.mark.parametrize(
    ("urgency", "window"), [("standard", dt.timedelta(days=30)), ("expedited", dt.timedelta(hours=72))]
)
def test_filing_moves_to_appealed_with_its_own_deadline_and_keeps_the_letter(denied, coordinator, urgency, window):
    PriorAuthCase.objects.filter(pk=denied.pk).update(urgency=urgency)
    denied.refresh_from_db()
    # when the coordinator files the edited letter
    with time_machine.travel(NOW, tick=False):
        doc = case_file_appeal(case=denied, actor=coordinator, letter="  Dear reviewer, please reconsider.  ")
    stored = PriorAuthCase.objects.get(pk=denied.pk)
    # then the case awaits the appeal decision, due by the appeal's timeframe from filing
    assert stored.status == Status.APPEALED
    assert stored.decision_due_at == NOW + window
    # and the exact text is kept as a generated document
    assert doc.kind == Document.Kind.APPEAL_LETTER and doc.source == Document.Source.GENERATED
    assert doc.content_type == "text/plain"
    assert doc.file.read() == b"Dear reviewer, please reconsider."
    # and the denial task is done, a task waits for the decision, all on the timeline
    assert not stored.tasks.filter(kind=Task.Kind.WORK_DENIAL, done_at__isnull=True).exists()
    waiting = stored.tasks.get(kind=Task.Kind.RECORD_OUTCOME, done_at__isnull=True)
    assert waiting.due_at == NOW + window and waiting.assignee == coordinator
    kinds = list(stored.events.order_by("pk").values_list("kind", "to_status"))
    assert (CaseEvent.Kind.STATUS, Status.APPEALED) in kinds
    assert stored.events.filter(kind=CaseEvent.Kind.DOCUMENT, details__document_id=doc.pk).exists()


@pytest.mark.parametrize("status", [Status.SUBMITTED, Status.APPROVED, Status.APPEALED, Status.CLOSED])
def test_only_a_denial_or_partial_approval_can_be_appealed(case, coordinator, status):
    PriorAuthCase.objects.filter(pk=case.pk).update(status=status)
    with pytest.raises(s.ActionRefused, match="Only a denied or partially approved case"):
        case_file_appeal(case=case, actor=coordinator, letter="Please reconsider.")
    assert PriorAuthCase.objects.get(pk=case.pk).status == status
    assert not Document.objects.filter(case=case).exists()


def test_an_empty_letter_is_refused_and_changes_nothing(denied, coordinator):
    events = denied.events.count()
    with pytest.raises(s.ActionRefused, match="needs its letter"):
        case_file_appeal(case=denied, actor=coordinator, letter="   ")
    assert PriorAuthCase.objects.get(pk=denied.pk).status == Status.DENIED
    assert denied.events.count() == events


def test_the_case_page_offers_the_draft_and_files_it_with_htmx(client, denied, coordinator, manager):
    client.force_login(coordinator)
    page = client.get(reverse("cases:detail", args=[denied.pk])).content.decode()
    # the form is there, prefilled with the draft
    assert 'id="appeal-form"' in page and "The reason given: MN01" in page
    # when filed through htmx
    response = client.post(
        reverse("cases:appeal", args=[denied.pk]), {"letter": "Please reconsider."}, HTTP_HX_REQUEST="true"
    )
    # then the fragments come back with the new status and the form is gone
    body = response.content.decode()
    assert response.status_code == 200 and 'hx-swap-oob="true"' in body
    assert "Awaiting appeal decision" in body and 'id="appeal-form"' not in body
    doc = Document.objects.get(case=denied, kind=Document.Kind.APPEAL_LETTER)
    # and the kept letter downloads as a text attachment
    download = client.get(reverse("cases:document", args=[denied.pk, doc.pk]))
    assert download["Content-Type"] == "text/plain"
    assert download["Content-Disposition"].startswith("attachment;")
    assert b"".join(download.streaming_content) == b"Please reconsider."


def test_the_appeal_form_is_not_shown_to_a_clinician(client, denied, owner_clinician):
    client.force_login(owner_clinician)
    page = client.get(reverse("cases:detail", args=[denied.pk])).content.decode()
    assert 'id="appeal-form"' not in page


def test_the_draft_encloses_clinical_documents_not_what_the_payer_already_has(denied):
    from django.core.files.base import ContentFile

    def doc(kind, title):
        d = Document(case=denied, kind=kind, title=title, source=Document.Source.GENERATED, content_type="text/plain")
        d.file.save("x.txt", ContentFile(b"x"), save=True)

    doc(Document.Kind.IMAGING, "MRI report 10/02/2026")
    doc(Document.Kind.SUBMISSION_PACKET, "Submission packet as sent")
    doc(Document.Kind.PAYER_LETTER, "Denial letter")
    letter = appeal_letter_draft(denied)
    assert "- MRI report 10/02/2026" in letter
    assert "Submission packet as sent" not in letter and "Denial letter" not in letter
