"""Documents that arrive: EHR notes are copied (DocumentReference data or Binary), sent inline as
PAS additionalInformation within the payer's byte budget, and what does not fit is named on the case
with a task to send it by fax or portal — never dropped silently."""

import base64

import pytest
from django.core.files.base import ContentFile

from cases.models import CaseEvent, Document, Task
from integrations.ehr_fhir.packet import documents_fetch
from integrations.pas.bundle import build_request_bundle
from integrations.pas.models import PayerConnection
from integrations.submission.models import Submission
from integrations.submission.services import submission_request, submission_send

pytestmark = pytest.mark.django_db(transaction=True)

MB = 1024 * 1024


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def _ehr_note(case, size: int | None, title="Office note 2026-02-01") -> Document:
    doc = Document.objects.create(
        case=case,
        kind=Document.Kind.CLINICAL_NOTE,
        title=title,
        source=Document.Source.EHR,
        ehr_reference="DocumentReference/note-1",
        content_type="application/pdf",
    )
    if size is not None:
        doc.file.save("n.pdf", ContentFile(b"%PDF" + b"x" * (size - 4)), save=False)
        doc.size_bytes = size
        doc.save()
    return doc


class FakeEhr:
    """Stands in for FhirSession.read: a DocumentReference pointing at a Binary, or with inline data."""

    base = "http://ehr.test/fhir/"

    def __init__(self, inline: bool):
        self.inline = inline
        self.reads = []

    def read(self, resource_type, resource_id, **_):
        self.reads.append(f"{resource_type}/{resource_id}")
        content = base64.b64encode(b"%PDF-1.7 note").decode()
        if resource_type == "DocumentReference":
            attachment = {"contentType": "application/pdf"}
            attachment |= {"data": content} if self.inline else {"url": "Binary/b-1"}
            return {"resourceType": "DocumentReference", "content": [{"attachment": attachment}]}
        return {"resourceType": "Binary", "contentType": "application/pdf", "data": content}


@pytest.mark.parametrize("inline", [True, False])
def test_an_ehr_note_is_copied_from_its_document_reference(pas_case, inline):
    doc = _ehr_note(pas_case, None)
    ehr = FakeEhr(inline)
    assert documents_fetch(session=ehr, case=pas_case) == 1
    doc.refresh_from_db()
    assert doc.file.read() == b"%PDF-1.7 note" and doc.size_bytes == 13
    assert ehr.reads == (["DocumentReference/note-1"] if inline else ["DocumentReference/note-1", "Binary/b-1"])


def test_a_note_the_ehr_cannot_give_is_said_on_the_timeline(pas_case):
    doc = _ehr_note(pas_case, None)

    class NoContent(FakeEhr):
        def read(self, resource_type, resource_id, **_):
            return {"resourceType": "DocumentReference", "content": [{"attachment": {"url": "https://x.test/n.pdf"}}]}

    assert documents_fetch(session=NoContent(True), case=pas_case) == 0
    doc.refresh_from_db()
    assert not doc.file
    assert CaseEvent.objects.filter(case=pas_case, message__startswith="Could not copy the EHR note").exists()


def test_a_2_mb_note_is_sent_with_its_content(pas_case):
    doc = _ehr_note(pas_case, 2 * MB)
    not_sent = []
    bundle = build_request_bundle(pas_case, submission_key="k", not_sent=not_sent)
    refs = [
        e["resource"]
        for e in bundle["entry"]
        if e["resource"]["resourceType"] == "DocumentReference"
        and e["resource"]["identifier"][0]["value"] == str(doc.pk)
    ]
    (attachment,) = [c["attachment"] for c in refs[0]["content"]]
    assert len(base64.b64decode(attachment["data"])) == 2 * MB
    assert "url" not in attachment  # the payer cannot open an EHR-local reference
    assert not_sent == []
    info = next(
        i
        for i in bundle["entry"][0]["resource"]["supportingInfo"]
        if "valueReference" in i and i["extension"][0]["extension"][2]["valueString"] == str(doc.pk)
    )
    assert info["category"]["coding"][0]["code"] == "additionalInformation"


def test_over_budget_and_contentless_notes_get_the_visible_fallback(sandboxed, pas_payer, pas_case, coordinator):
    PayerConnection.objects.filter(payer=pas_payer).update(max_document_bytes=3 * MB)
    fits = _ehr_note(pas_case, 1 * MB, title="Office note (fits)")
    too_big = _ehr_note(pas_case, 4 * MB, title="Imaging report (over budget)")
    no_content = _ehr_note(pas_case, None, title="PT note (not copied)")
    sub = submission_request(case=pas_case, actor=coordinator)
    submission_send(submission_id=sub.pk)
    sub.refresh_from_db()
    assert sub.state == Submission.State.ACCEPTED  # the request went, with what fits
    sent = {e["document"] for e in sub.sent_supporting if e.get("kind") == "document"}
    assert sent == {fits.pk}
    events = list(CaseEvent.objects.filter(case=pas_case, message__startswith="Not sent with the PAS request"))
    assert {e.details["document_id"] for e in events} == {too_big.pk, no_content.pk}
    assert any("over the payer's size budget" in e.message for e in events)
    tasks = Task.objects.filter(case=pas_case, kind=Task.Kind.SUBMIT, title__startswith="Send by fax or portal")
    assert sorted(t.title for t in tasks) == [
        "Send by fax or portal: Imaging report (over budget) (not sent with the PAS request)",
        "Send by fax or portal: PT note (not copied) (not sent with the PAS request)",
    ]
