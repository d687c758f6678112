"""The submission packet, read back by poppler's pdftotext and pypdf (not by the code that wrote it)."""

import datetime as dt
import io
import json
import logging
import shutil
import subprocess

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from fpdf import FPDF
from PIL import Image
from pypdf import PdfReader, PdfWriter

from cases import actions, documents
from cases import services as s
from cases.models import CaseEvent, Document, PriorAuthCase, RequirementStatus, Status, Task, Urgency
from cases.packet_pdf import PacketError, packet_download, submission_packet_pdf
from tests import factories as f

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 23, 15, 5, tzinfo=dt.UTC)  # 10:05 AM in New York


@pytest.fixture(scope="session")
def pdftotext():
    path = shutil.which("pdftotext")
    if path is None:
        # Not a skip: the packet's tests must run in CI, which installs poppler-utils (.ci/run).
        pytest.fail("poppler's pdftotext is missing: apt-get install poppler-utils")
    return path


@pytest.fixture
def read(pdftotext, tmp_path):
    """read(pdf bytes, page=None) -> the text poppler extracts (one page, or all)."""

    def _read(content: bytes, page: int | None = None) -> str:
        source = tmp_path / "read.pdf"
        source.write_bytes(content)
        args = [pdftotext, "-layout"]
        if page is not None:
            args += ["-f", str(page), "-l", str(page)]
        done = subprocess.run([*args, str(source), "-"], capture_output=True, check=True, timeout=60)
        return " ".join(done.stdout.decode("utf-8").split())

    return _read


def pages_of(content: bytes) -> int:
    return len(PdfReader(io.BytesIO(content)).pages)


def pdf_with_pages(*texts: str) -> bytes:
    """A plain PDF (another generator's output would do as well) whose pages say `texts`."""
    pdf = FPDF()
    pdf.set_font("Helvetica", size=18)
    for text in texts:
        pdf.add_page()
        pdf.cell(0, 10, text)
    return bytes(pdf.output())


def png_bytes(size=(300, 200)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


def upload(case, content: bytes, title: str, name="x.pdf", content_type="application/pdf", kind="other"):
    return documents.document_upload(
        case=case, actor=None, file=SimpleUploadedFile(name, content, content_type), title=title, kind=kind
    )


@pytest.fixture
def fax_case(case, owner_clinician, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    practice = case.practice
    practice.fax = "(555) 010-4401"
    practice.npi = "1234567893"
    practice.save()
    payer = case.payer
    payer.fax = "(555) 010-7701"
    payer.phone = "(555) 010-7700"
    payer.default_channel = "fax"
    payer.save()
    patient = case.patient
    patient.first_name, patient.last_name = "Zoë", "Ñúñez-Łukasz"
    patient.birth_date = dt.date(1961, 2, 3)
    patient.save()
    plan = f.PlanFactory(payer=payer, name="Gold PPO")
    coverage = f.CoverageFactory(patient=patient, payer=payer, plan=plan, member_id="MBR-4411", group_number="GRP-77")
    order = case.order
    order.coverage = coverage
    order.code_system, order.code, order.description = "CPT", "72148", "MRI lumbar spine without contrast"
    order.diagnosis_codes = ["M54.16", "M51.26"]
    order.site_of_service = "22"
    order.requested_date = dt.date(2026, 12, 1)
    order.save()
    rule = f.PayerRuleFactory(payer=payer, code="72148", criteria_reference="LCD L35936")
    f.RequirementStatusFactory(
        case=case,
        requirement=f.RequirementFactory(rule=rule, description="Lumbar X-ray within 90 days", position=1),
        state=RequirementStatus.State.MET,
        evidence=[{"resource": "DiagnosticReport/9", "date": "2026-10-02", "value": "X-ray L-spine: disc narrowing"}],
    )
    f.RequirementStatusFactory(
        case=case,
        requirement=f.RequirementFactory(rule=rule, description="Physical therapy 6 weeks", position=2),
        state=RequirementStatus.State.WAIVED,
        note="PT notes faxed by the therapist",
        resolved_by=owner_clinician,
    )
    text = "Radicular pain down the left leg despite 8 weeks of therapy."
    PriorAuthCase.objects.filter(pk=case.pk).update(
        status=Status.READY,
        channel="fax",
        plan=plan,
        rule=rule,
        summary_text=text,
        summary_attested_text=text,
        summary_attested_by=owner_clinician,
        summary_attested_at=NOW - dt.timedelta(days=1),
    )
    case.refresh_from_db()
    return case


@pytest.fixture
def built(fax_case):
    def _build(case=None):
        with time_machine.travel(NOW, tick=False):
            return submission_packet_pdf(PriorAuthCase.objects.with_related().get(pk=(case or fax_case).pk))

    return _build


# --- the cover ------------------------------------------------------------------


def test_the_cover_names_the_payer_counts_every_page_and_keeps_the_patient_off(built, read, fax_case):
    packet = built()
    cover = read(packet.content, page=1)
    # then it is addressed to the payer's fax line, from the practice, dated in the practice's zone
    assert "FAX" in cover and "Prior authorization request" in cover
    assert "Acme Health" in cover and "(555) 010-7701" in cover
    assert "Riverside Medical Group" in cover and "(555) 010-4401" in cover
    assert "November 23, 2026, 10:05 AM EST" in cover
    assert f"reference case {fax_case.pk}" in cover
    # and its page count is the packet's, as another reader counts it
    assert packet.page_count == pages_of(packet.content) == 3
    assert "Pages 3 including this cover" in cover
    assert "CONFIDENTIALITY NOTICE" in cover and "HIPAA" in cover
    # and a fax that goes astray shows no patient on its first page
    assert "Łukasz" not in cover and "MBR-4411" not in cover
    assert "EXPEDITED" not in cover


def test_an_expedited_case_asks_for_expedited_review_on_the_cover(built, read, fax_case):
    PriorAuthCase.objects.filter(pk=fax_case.pk).update(urgency=Urgency.EXPEDITED, payer_tracking_id="HMA-778")
    packet = built()
    assert "EXPEDITED REVIEW REQUESTED" in read(packet.content, page=1)
    assert "reference HMA-778" in read(packet.content, page=1)
    assert "EXPEDITED REVIEW REQUESTED" in read(packet.content, page=2)


# --- the request and medical necessity --------------------------------------------


def test_the_request_page_has_what_the_payer_needs(built, read, fax_case):
    page = read(built().content, page=2)
    provider = fax_case.order.ordering_provider
    assert "Ñúñez-Łukasz, Zoë" in page and "02/03/1961" in page
    assert "Member ID MBR-4411" in page and "Group number GRP-77" in page
    assert "Acme Health" in page and "Gold PPO (Commercial)" in page
    assert f"{provider.first_name} {provider.last_name}, MD" in page
    assert f"NPI {provider.npi}" in page and "Orthopedics" in page
    assert "CPT 72148" in page and "MRI lumbar spine without contrast" in page
    assert "ICD-10-CM M54.16, M51.26" in page
    assert "Quantity 1 UN" in page and "22 On-campus outpatient hospital" in page
    assert "12/01/2026" in page and "Urgency Standard" in page
    assert "Payer criteria LCD L35936" in page


def test_the_necessity_page_shows_who_attested_and_the_checklist(built, read, fax_case, owner_clinician):
    page = read(built().content, page=3)
    assert "Radicular pain down the left leg despite 8 weeks of therapy." in page
    assert f"Attested by {owner_clinician.display()}, MD on 11/22/2026" in page
    assert "NOT ATTESTED" not in page
    assert "MET Lumbar X-ray within 90 days X-ray L-spine: disc narrowing (2026-10-02)" in page
    assert "RESOLVED Physical therapy 6 weeks PT notes faxed by the therapist" in page


def test_a_draft_summary_is_marked_not_attested(built, read, fax_case):
    # the text changed after the attestation: what is printed is a draft
    PriorAuthCase.objects.filter(pk=fax_case.pk).update(summary_text="New wording nobody attested.")
    f.RequirementStatusFactory(case=fax_case, requirement=f.RequirementFactory(description="HbA1c", position=3))
    page = read(built().content, page=3)
    assert "NOT ATTESTED" in page and "New wording nobody attested." in page
    assert "Attested by" not in page
    assert "MISSING HbA1c" in page


# --- the documents -----------------------------------------------------------------


def test_a_two_page_pdf_adds_two_pages_and_a_png_one(built, read, fax_case):
    before = built().page_count
    two = upload(fax_case, pdf_with_pages("Outside record one", "Outside record two"), "Outside records")
    png = upload(fax_case, png_bytes(), "Photo of the wound", name="w.png", content_type="image/png")
    packet = built()
    assert packet.page_count == pages_of(packet.content) == before + 3
    assert packet.included == (two.pk, png.pk) and packet.skipped == ()
    # the documents follow our pages, in the order they came, where the request page says
    assert "Outside record one" in read(packet.content, page=before + 1)
    assert "Outside record two" in read(packet.content, page=before + 2)
    request = read(packet.content, page=2)
    assert f"Pages {before + 1}–{before + 2} Outside records (Other)" in request
    assert f"Page {before + 3} Photo of the wound (Other)" in request
    assert f"Pages {before + 1}–{before + 3} Enclosed documents (2)" in read(packet.content, page=1)
    # the image is a page of its own with the picture on it
    last = PdfReader(io.BytesIO(packet.content)).pages[-1]
    assert list(last["/Resources"]["/XObject"].keys())


def test_a_damaged_pdf_is_listed_with_its_reason_and_the_rest_is_intact(built, read, fax_case):
    good = upload(fax_case, pdf_with_pages("Good record"), "Good record")
    broken = upload(fax_case, b"%PDF-1.7\n" + b"\x00garbage" * 50, "Scanned consult")
    packet = built()
    assert packet.included == (good.pk,)
    assert [(x.document_id, x.title) for x in packet.skipped] == [(broken.pk, "Scanned consult")]
    assert "damaged PDF" in packet.skipped[0].reason
    # a page of the packet says what is missing and why; the good document is still there
    assert packet.page_count == pages_of(packet.content) == 5
    missing = read(packet.content, page=4)
    assert "Documents not included in this packet" in missing
    assert "Scanned consult" in missing and "damaged PDF" in missing
    assert "Good record" in read(packet.content, page=5)
    assert "Page 4 Documents not included in this packet" in read(packet.content, page=1)


def test_a_password_protected_pdf_is_listed_but_one_only_restricted_is_included(built, fax_case):
    def encrypted(user_password):
        writer = PdfWriter(clone_from=io.BytesIO(pdf_with_pages("Locked")))
        writer.encrypt(user_password=user_password, owner_password="owner-secret", algorithm="AES-256")
        buffer = io.BytesIO()
        writer.write(buffer)
        return buffer.getvalue()

    locked = upload(fax_case, encrypted("open-sesame"), "Locked report")
    restricted = upload(fax_case, encrypted(""), "Restricted report")
    packet = built()
    assert packet.included == (restricted.pk,)
    assert packet.skipped[0].document_id == locked.pk and "password-protected" in packet.skipped[0].reason


def test_a_broken_image_and_an_ehr_only_note_are_listed(built, read, fax_case):
    upload(fax_case, f.PNG_BYTES, "Photo", name="p.png", content_type="image/png")
    fax_case.documents.create(title="Office note", ehr_reference="DocumentReference/7", source="ehr")
    packet = built()
    reasons = {x.title: x.reason for x in packet.skipped}
    assert "damaged image" in reasons["Photo"]
    assert reasons["Office note"].startswith("kept in the EHR only (DocumentReference/7)")
    assert packet.included == ()
    assert pages_of(packet.content) == packet.page_count == 4


def test_an_appeal_letter_is_typeset_and_an_earlier_packet_is_not_resent(built, read, fax_case, coordinator):
    fax_case.documents.create(
        title="Appeal letter",
        kind=Document.Kind.APPEAL_LETTER,
        content_type="text/plain",
        file=SimpleUploadedFile("a.txt", "Dear reviewer, Zoë needs this.".encode()),
    )
    first = built()
    from cases.packet_pdf import packet_keep_as_sent

    packet_keep_as_sent(case=fax_case, actor=coordinator, packet=first)
    second = built()
    assert "Dear reviewer, Zoë needs this." in read(second.content, page=4)
    # the kept packet is a document of the case, but not part of the next packet
    assert second.page_count == first.page_count == 4
    assert fax_case.documents.filter(kind=Document.Kind.SUBMISSION_PACKET).count() == 1


def test_the_size_budget_leaves_later_documents_out_with_a_reason(built, fax_case, settings):
    first = upload(fax_case, pdf_with_pages("One"), "One")
    upload(fax_case, pdf_with_pages("Two"), "Two")
    settings.PACKET_MAX_BYTES = first.size_bytes + 10
    packet = built()
    assert packet.included == (first.pk,)
    assert "size limit" in packet.skipped[0].reason


# --- characters and failures -------------------------------------------------------


def test_names_outside_latin_1_render_and_unknown_characters_are_replaced_quietly(built, read, fax_case, caplog):
    patient = fax_case.patient
    patient.first_name = "Zoë 张"
    patient.save()
    with caplog.at_level(logging.DEBUG):
        packet = built()
    page = read(packet.content, page=2)
    assert "Ñúñez-Łukasz, Zoë ?" in page
    # the font lacks the character: it is replaced, and no log line quotes it
    assert not [r for r in caplog.records if "张" in r.getMessage() or "5f20" in r.getMessage()]


def test_a_missing_font_is_a_clear_error(built, settings, tmp_path):
    settings.PACKET_FONT_DIR = tmp_path / "no-fonts"
    with pytest.raises(PacketError, match="fonts-dejavu-core"):
        built()


def test_no_packet_for_a_case_without_a_payer_or_before_it_is_ready(fax_case, coordinator):
    PriorAuthCase.objects.filter(pk=fax_case.pk).update(payer=None)
    fax_case.refresh_from_db()
    with pytest.raises(PacketError, match="no payer"):
        submission_packet_pdf(fax_case)
    with pytest.raises(s.ActionRefused):
        packet_download(case=fax_case, actor=coordinator)
    PriorAuthCase.objects.filter(pk=fax_case.pk).update(payer=f.PayerFactory(), status=Status.GATHERING)
    fax_case.refresh_from_db()
    with pytest.raises(s.ActionRefused, match="ready to submit"):
        packet_download(case=fax_case, actor=coordinator)
    assert not fax_case.events.filter(kind=CaseEvent.Kind.DOCUMENT).exists()


# --- the download on the case page -------------------------------------------------


def test_the_case_page_offers_the_packet_to_those_who_send_it(client, fax_case, coordinator, owner_clinician):
    url = reverse("cases:detail", args=[fax_case.pk])
    client.force_login(coordinator)
    assert 'id="packet-link"' in client.get(url).content.decode()
    client.force_login(owner_clinician)
    assert 'id="packet-link"' not in client.get(url).content.decode()
    # not before the case is ready
    PriorAuthCase.objects.filter(pk=fax_case.pk).update(status=Status.GATHERING)
    client.force_login(coordinator)
    assert 'id="packet-link"' not in client.get(url).content.decode()


def test_a_download_goes_on_the_timeline_without_the_patient(client, fax_case, coordinator, read):
    upload(fax_case, pdf_with_pages("Good record"), "Good record")
    upload(fax_case, b"%PDF-1.7\n" + b"\x00garbage" * 50, "Scanned consult")
    client.force_login(coordinator)
    response = client.get(reverse("cases:packet", args=[fax_case.pk]))
    assert response.status_code == 200 and response["Cache-Control"] == "no-store, private"
    assert pages_of(response.content) == 5
    event = fax_case.events.get(message__startswith="Submission packet downloaded")
    assert event.kind == CaseEvent.Kind.DOCUMENT and event.actor == coordinator
    assert event.message == "Submission packet downloaded (5 pages, 1 document not included)"
    assert event.details["pages"] == 5 and event.details["skipped"] == 1
    assert "Łukasz" not in event.message + json.dumps(event.details, ensure_ascii=False)


def test_a_download_the_case_cannot_give_returns_to_the_case_page_with_the_reason(
    client, fax_case, coordinator, settings, tmp_path
):
    client.force_login(coordinator)
    url = reverse("cases:packet", args=[fax_case.pk])
    PriorAuthCase.objects.filter(pk=fax_case.pk).update(status=Status.GATHERING)
    response = client.get(url, follow=True)
    assert response.redirect_chain == [(reverse("cases:detail", args=[fax_case.pk]), 302)]
    assert "once it is ready to submit" in response.content.decode()
    # and a machine without the font says what to install
    PriorAuthCase.objects.filter(pk=fax_case.pk).update(status=Status.READY)
    settings.PACKET_FONT_DIR = tmp_path / "no-fonts"
    response = client.get(url, follow=True)
    assert "apt-get install fonts-dejavu-core" in response.content.decode()
    assert not fax_case.events.filter(message__startswith="Submission packet").exists()


@pytest.mark.parametrize("documents", [1, 10])
def test_the_download_reads_a_fixed_number_of_rows(
    client, fax_case, coordinator, documents, django_assert_max_num_queries
):
    for i in range(documents):
        upload(fax_case, pdf_with_pages(f"Record {i}"), f"Record {i}")
    client.force_login(coordinator)
    # Queries (14): session, user, practice (time zone middleware), the user's groups (role), the case
    # (one join: practice, patient, order, provider, payer, plan, rule, location, assignee), coverage (+plan),
    # the attesting clinician (+provider), requirements (+requirement, resolved_by), documents, the
    # timeline event, the access-log row, and the session save (savepoint, update, release). The files are
    # read from storage.
    with django_assert_max_num_queries(14):
        response = client.get(reverse("cases:packet", args=[fax_case.pk]))
    assert pages_of(response.content) == 3 + documents


# --- keeping what was sent ---------------------------------------------------------


@pytest.fixture
def submitted_by_hand(fax_case, coordinator):
    # Fax payers are sent by the fax service now (tests/integrations/fax): a packet a person sends
    # goes to a portal payer, with the same packet.
    PriorAuthCase.objects.filter(pk=fax_case.pk).update(channel="portal")
    fax_case.refresh_from_db()
    practice = fax_case.practice
    practice.submission_requires_approval = False
    practice.save()
    actions.case_submit(case=fax_case, actor=coordinator)  # the request waits with staff …
    return fax_case, fax_case.tasks.get(kind=Task.Kind.SUBMIT)  # … whose task says how to send it


def test_the_submit_task_points_at_the_packet_and_the_portal_guide(submitted_by_hand):
    case, task = submitted_by_hand
    assert "Download submission packet (PDF)" in task.detail
    assert f"/cases/{case.pk}/portal/" in task.detail


def test_recording_submitted_keeps_the_packet_as_sent(submitted_by_hand, coordinator, read):
    case, _ = submitted_by_hand
    upload(case, pdf_with_pages("Outside record"), "Outside record")
    with time_machine.travel(NOW, tick=False):
        actions.case_record_outcome(case=case, actor=coordinator, outcome="submitted", payer_reference="FX-1")
    case.refresh_from_db()
    assert case.status == Status.SUBMITTED and case.payer_tracking_id == "FX-1"
    kept = case.documents.get(kind=Document.Kind.SUBMISSION_PACKET)
    assert kept.source == Document.Source.GENERATED and kept.content_type == "application/pdf"
    assert kept.uploaded_by == coordinator and kept.title == "Submission packet as sent, 11/23/2026 (4 pages)"
    content = kept.file.read()
    assert kept.size_bytes == len(content) and pages_of(content) == 4
    # it is the packet as it went out: before the payer's reference existed
    assert f"reference case {case.pk}" in read(content, page=1)
    assert "Outside record" in read(content, page=4)
    event = case.events.get(kind=CaseEvent.Kind.DOCUMENT, details__document_id=kept.pk)
    assert event.message == "Submission packet kept as sent (4 pages)"


@pytest.mark.parametrize(
    ("failure", "said"),
    [
        (RuntimeError("boom while drawing Zoë"), "unexpected error (RuntimeError)"),
        (PacketError("The packet's font is not installed."), "The packet's font is not installed"),
    ],
)
def test_a_packet_that_cannot_be_built_does_not_lose_the_outcome(
    submitted_by_hand, coordinator, monkeypatch, caplog, failure, said
):
    case, _ = submitted_by_hand

    def fail(case):
        raise failure

    monkeypatch.setattr("cases.packet_pdf.submission_packet_pdf", fail)
    actions.case_record_outcome(case=case, actor=coordinator, outcome="submitted")
    case.refresh_from_db()
    assert case.status == Status.SUBMITTED
    assert not case.documents.filter(kind=Document.Kind.SUBMISSION_PACKET).exists()
    error = case.events.get(kind=CaseEvent.Kind.SYSTEM, message__startswith="Error:")
    assert f"the submission packet was not kept ({said}" in error.message
    assert "upload the copy that was sent" in error.message
    assert "Zoë" not in caplog.text


def test_a_packet_that_cannot_be_stored_does_not_lose_the_outcome(submitted_by_hand, coordinator, monkeypatch):
    case, _ = submitted_by_hand

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("django.core.files.storage.FileSystemStorage._save", disk_full)
    actions.case_record_outcome(case=case, actor=coordinator, outcome="submitted")
    case.refresh_from_db()
    assert case.status == Status.SUBMITTED
    assert not case.documents.filter(kind=Document.Kind.SUBMISSION_PACKET).exists()
    assert case.events.filter(message__contains="could not be stored (OSError)").exists()


def test_an_automated_channel_keeps_no_packet(fax_case, coordinator):
    # a pended PAS case answered by hand: the PAS submission rows are its record, not a PDF
    PriorAuthCase.objects.filter(pk=fax_case.pk).update(status=Status.PENDED, channel="pas")
    actions.case_record_outcome(case=fax_case, actor=coordinator, outcome="submitted")
    fax_case.refresh_from_db()
    assert fax_case.status == Status.SUBMITTED
    assert not fax_case.documents.filter(kind=Document.Kind.SUBMISSION_PACKET).exists()


def test_answering_a_pended_portal_case_keeps_the_packet_again(fax_case, coordinator):
    # (A fax case is sent by the fax service: like PAS above, its rows are its record.)
    PriorAuthCase.objects.filter(pk=fax_case.pk).update(status=Status.PENDED, channel="portal")
    actions.case_record_outcome(case=fax_case, actor=coordinator, outcome="submitted")
    assert fax_case.documents.filter(kind=Document.Kind.SUBMISSION_PACKET).count() == 1
    # an acknowledgement of what the payer already has sends nothing new
    actions.case_record_outcome(case=fax_case, actor=coordinator, outcome="submitted", payer_reference="FX-2")
    assert fax_case.documents.filter(kind=Document.Kind.SUBMISSION_PACKET).count() == 1


def test_a_decision_recorded_straight_from_ready_keeps_the_packet_too(submitted_by_hand, coordinator):
    # the payer's portal approved at once: the request went out by hand all the same
    case, _ = submitted_by_hand
    actions.case_record_outcome(
        case=case,
        actor=coordinator,
        outcome="approved",
        authorization_number="AUTH-1",
        effective_start=dt.date(2026, 12, 1),
    )
    case.refresh_from_db()
    assert case.status == Status.APPROVED
    assert case.documents.filter(kind=Document.Kind.SUBMISSION_PACKET).count() == 1


def test_a_refused_answer_builds_nothing(submitted_by_hand, coordinator, monkeypatch):
    case, _ = submitted_by_hand
    monkeypatch.setattr("cases.packet_pdf.submission_packet_pdf", lambda case: pytest.fail("built a packet"))
    with pytest.raises(s.ActionRefused, match="authorization number"):
        actions.case_record_outcome(case=case, actor=coordinator, outcome="approved")
    assert PriorAuthCase.objects.get(pk=case.pk).status == Status.READY
