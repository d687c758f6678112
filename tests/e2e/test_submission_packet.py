"""Click through a submission sent by hand in Chromium (a portal payer: the packet is uploaded there; fax
payers are sent by the fax service, tests/integrations/fax): submit, download the packet, record it sent."""

import io

import pytest
from pypdf import PdfReader

from cases.models import Document, Status
from tests import factories as f

pytestmark = pytest.mark.e2e


@pytest.mark.django_db(transaction=True)
def test_coordinator_downloads_the_packet_and_records_it_sent(
    login, page, live_server, practice, owner_provider, coordinator, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path
    practice.submission_requires_approval = False
    practice.save()
    payer = f.PayerFactory(name="Lakeside Health", default_channel="portal", fax="(555) 010-7701")
    order = f.OrderFactory(practice=practice, ordering_provider=owner_provider, patient__last_name="Ñúñez-Łukasz")
    order.coverage = f.CoverageFactory(patient=order.patient, payer=payer, member_id="MBR-31")
    order.save()
    case = f.gate_met(f.CaseFactory(order=order, payer=payer, status=Status.READY, channel="portal"))

    login(coordinator)
    page.goto(f"{live_server.url}/cases/{case.pk}/")
    page.click("button:has-text('Submit to payer')")
    page.wait_for_selector(f"#case-{case.pk}-timeline >> text=Submission requested")

    # The packet downloads as a file; the case page stays where it is.
    with page.expect_download() as download:
        page.click("#packet-link")
    assert download.value.suggested_filename == f"case-{case.pk}-packet.pdf"
    content = open(download.value.path(), "rb").read()
    assert len(PdfReader(io.BytesIO(content)).pages) == 3
    page.reload()
    page.wait_for_selector(f"#case-{case.pk}-timeline >> text=Submission packet downloaded (3 pages)")

    # The coordinator uploaded it and records that the payer has it: the packet is kept as sent.
    page.click("text=Record payer outcome")
    page.select_option("#outcome-form select[name=outcome]", "submitted")
    page.click("#outcome-form button[type=submit]")
    page.wait_for_selector(f"#case-{case.pk}-timeline >> text=Submission packet kept as sent (3 pages)")
    assert page.inner_text(f"#case-{case.pk}-status") == "Submitted"
    kept = case.documents.get(kind=Document.Kind.SUBMISSION_PACKET)
    assert page.locator(f"#case-{case.pk}-packet").get_by_text(kept.title).is_visible()
