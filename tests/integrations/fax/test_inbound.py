"""Faxes the payers send us: stored once, read, matched to a case or left in the inbox, and what
they say recorded through the one decision path."""

import datetime as dt

import pytest

from cases.models import Document, Status, Task
from cases.reference import case_reference
from integrations.fax.models import InboundFax
from integrations.fax.sandbox import sandbox_receive
from integrations.fax.services import inbound_file, inbound_record
from tests import factories as f
from tests.integrations.fax.conftest import make_pdf, post_event, signed

pytestmark = pytest.mark.django_db
PRACTICE_FAX = "+15550104401"


@pytest.fixture
def awaiting(fax_case):
    """The fax case, with the payer (its packet was faxed)."""
    type(fax_case).objects.filter(pk=fax_case.pk).update(status=Status.SUBMITTED)
    fax_case.refresh_from_db()
    return fax_case


@pytest.fixture
def receive(django_capture_on_commit_callbacks):
    def _receive(content: bytes) -> InboundFax:
        with django_capture_on_commit_callbacks(execute=True):
            vendor_id = sandbox_receive(to=PRACTICE_FAX, content=content)
        return InboundFax.objects.get(vendor_fax_id=vendor_id)

    return _receive


def test_matched_by_our_reference_is_filed_with_a_task(awaiting, receive):
    fax = receive(make_pdf("Faxonly Health - Utilization Management", f"Re: {case_reference(awaiting.pk)}", "APPROVED"))

    assert fax.state == InboundFax.State.FILED and fax.matched_by == InboundFax.MatchedBy.REFERENCE
    assert fax.case_id == awaiting.pk
    doc = awaiting.documents.get(kind=Document.Kind.PAYER_LETTER)
    assert doc.source == Document.Source.PAYER and doc.file.open("rb").read() == fax.file.open("rb").read()
    task = Task.objects.get(case=awaiting, dedupe_key=f"fax-in-{fax.pk}")
    assert task.kind == Task.Kind.RECORD_OUTCOME and task.is_open


def test_a_reference_with_a_wrong_check_digit_does_not_match(awaiting, receive):
    good = case_reference(awaiting.pk)
    bad = good[:-1] + str((int(good[-1]) + 1) % 10)
    fax = receive(make_pdf("Prior authorization determination", f"Reference {bad}"))
    assert fax.state == InboundFax.State.INBOX and fax.case_id is None


def test_matched_by_member_id_and_name(awaiting, receive):
    fax = receive(make_pdf("Member: ABERNATHY, DOLORES", "Member ID: XZW448812", "Request approved"))
    assert fax.state == InboundFax.State.FILED and fax.matched_by == InboundFax.MatchedBy.MEMBER
    assert fax.case_id == awaiting.pk


def test_matched_by_name_and_birth_date(awaiting, receive):
    born = awaiting.patient.birth_date
    fax = receive(make_pdf("Patient: Dolores Abernathy", f"DOB: {born:%m/%d/%Y}", "Additional information required"))
    assert fax.state == InboundFax.State.FILED and fax.matched_by == InboundFax.MatchedBy.PATIENT


def test_two_open_cases_for_the_patient_wait_in_the_inbox(awaiting, receive, owner_provider):
    order = f.OrderFactory(practice=awaiting.practice, patient=awaiting.patient, ordering_provider=owner_provider)
    f.CaseFactory(order=order, payer=awaiting.payer, status=Status.SUBMITTED)
    fax = receive(make_pdf("Member ID: XZW448812", "Patient: Dolores Abernathy"))
    assert fax.state == InboundFax.State.INBOX and "2 open cases" in fax.match_note


def test_unmatched_lands_in_the_inbox(awaiting, receive):
    fax = receive(make_pdf("To whom it may concern", "Please call our office about your request."))
    assert fax.state == InboundFax.State.INBOX and fax.case_id is None
    assert "No reference" in fax.match_note
    assert fax.file and fax.sha256


def test_a_textless_scan_is_flagged_not_guessed(awaiting, receive):
    fax = receive(make_pdf(image_only=True))
    assert fax.state == InboundFax.State.INBOX and fax.text_state == InboundFax.Text.NONE
    assert fax.case_id is None and "scanned" in fax.match_note


def test_something_that_is_not_a_pdf_is_kept_for_a_person(awaiting, receive):
    fax = receive(b"II*\x00 a TIFF, say")
    assert fax.state == InboundFax.State.ERROR and fax.error == "not a PDF" and fax.file


def test_a_duplicate_delivery_is_stored_once(awaiting, client, django_capture_on_commit_callbacks):
    payload = {"fax_id": "in-1", "to": PRACTICE_FAX, "from": "+15550107701", "media_url": "sandbox://none"}
    with django_capture_on_commit_callbacks(execute=True):
        first = post_event(client, *signed("fax.received", payload))
        again = post_event(client, *signed("fax.received", payload))  # a new event id, the same fax
        replay = post_event(client, *signed("fax.received", payload, event_id="evt-1"))
        replay2 = post_event(client, *signed("fax.received", payload, event_id="evt-1"))
    assert {first.status_code, again.status_code, replay.status_code, replay2.status_code} == {204}
    assert InboundFax.objects.count() == 1


def test_forged_inbound_fax_is_refused(awaiting, client):
    body, headers = signed("fax.received", {"fax_id": "in-2", "to": PRACTICE_FAX}, key=b"\x02" * 32)
    assert post_event(client, body, headers).status_code == 403
    assert not InboundFax.objects.exists()


def test_recording_an_approval_goes_through_the_decision_path(awaiting, receive, coordinator):
    fax = receive(make_pdf(f"Re: {case_reference(awaiting.pk)}", "Approved, auth number AUTH-5521"))

    inbound_record(
        fax=fax,
        actor=coordinator,
        outcome="approved",
        authorization_number="AUTH-5521",
        effective_start=dt.date(2026, 12, 1),
        effective_end=dt.date(2027, 2, 28),
    )

    awaiting.refresh_from_db()
    assert awaiting.status == Status.APPROVED and awaiting.authorization_number == "AUTH-5521"
    event = awaiting.events.filter(to_status=Status.APPROVED).get()
    assert event.details.get("raw") == f"fax.InboundFax/{fax.pk}" and event.details.get("source") == "manual"
    fax.refresh_from_db()
    assert fax.state == InboundFax.State.RECORDED
    assert not Task.objects.get(dedupe_key=f"fax-in-{fax.pk}").is_open


def test_recording_an_information_request_makes_the_clinician_task(awaiting, receive, coordinator):
    fax = receive(make_pdf(f"Re: {case_reference(awaiting.pk)}", "Send the last 6 weeks of PT notes"))
    inbound_record(fax=fax, actor=coordinator, outcome="pended", note="Send the last 6 weeks of PT notes")

    awaiting.refresh_from_db()
    assert awaiting.status == Status.PENDED
    task = Task.objects.get(case=awaiting, kind=Task.Kind.ANSWER_INFO_REQUEST)
    assert "6 weeks of PT notes" in task.detail


def test_filing_by_hand_then_recording(awaiting, receive, coordinator):
    fax = receive(make_pdf("No reference here", "Denied: not medically necessary"))
    inbound_file(fax=fax, case=awaiting, actor=coordinator, matched_by=InboundFax.MatchedBy.STAFF)
    fax.refresh_from_db()
    inbound_record(
        fax=fax,
        actor=coordinator,
        outcome="denied",
        denial_reason_code="MN01",
        denial_reason_text="Conservative therapy under 6 weeks",
    )
    awaiting.refresh_from_db()
    assert awaiting.status == Status.DENIED and fax.filed_by == coordinator


def test_a_fax_to_a_number_no_practice_has_is_kept(
    awaiting, client, other_practice, django_capture_on_commit_callbacks
):
    # Two practices on the installation, and the fax went to neither's line: kept, never dropped.
    with django_capture_on_commit_callbacks(execute=True):
        sandbox_receive(to="+15550109999", content=make_pdf("To whom it may concern", "Approved"))
    fax = InboundFax.objects.get()
    assert fax.practice_id is None and fax.state == InboundFax.State.INBOX and fax.file
    assert "no practice" in fax.match_note
