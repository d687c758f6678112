"""Click through an inbound fax in Chromium: a payer's answer without our reference waits in the
inbox; a coordinator finds its case, files it there and records the approval it contains."""

import pytest

from cases.models import Status
from integrations.fax.models import InboundFax
from integrations.fax.sandbox import sandbox_receive
from tests import factories as f
from tests.integrations.fax.conftest import make_pdf

pytestmark = pytest.mark.e2e


@pytest.mark.django_db(transaction=True)
def test_coordinator_files_an_unmatched_fax_and_records_the_approval(
    login, page, live_server, practice, owner_provider, coordinator, screenshot, settings, tmp_path, monkeypatch, q_sync
):
    settings.MEDIA_ROOT = tmp_path
    monkeypatch.setenv("FAX_BACKEND", "sandbox")
    practice.fax = "(555) 010-4401"
    practice.save()
    payer = f.PayerFactory(name="Faxonly Health", default_channel="fax", fax="(555) 010-7701")
    patient = f.PatientFactory(practice=practice, first_name="Dolores", last_name="Abernathy", mrn="MRN-7741")
    coverage = f.CoverageFactory(patient=patient, payer=payer, member_id="XZW448812")
    order = f.OrderFactory(practice=practice, patient=patient, ordering_provider=owner_provider, coverage=coverage)
    case = f.CaseFactory(order=order, payer=payer, status=Status.SUBMITTED, channel="fax")
    # The payer answers on its own letterhead, quoting neither our reference nor the member.
    sandbox_receive(
        to="+15550104401",
        content=make_pdf(
            "Faxonly Health - Utilization Management",
            "Determination: APPROVED",
            "Authorization number AUTH-88121, valid 12/01/2026 to 02/28/2027",
        ),
    )
    fax = InboundFax.objects.get()
    assert fax.state == InboundFax.State.INBOX

    login(coordinator)
    page.goto(f"{live_server.url}/faxes/inbox/")
    page.click(f"#fax-{fax.pk} a")
    page.wait_for_selector("#match-note >> text=No reference of ours")
    page.wait_for_selector("#fax-text >> text=AUTH-88121")
    page.fill("input[name=q]", "Abernathy")
    page.click("#fax-file button:has-text('Search')")
    page.click(f"button[aria-label='File to case {case.pk}']")
    page.wait_for_selector(f"#fax-case >> text=case {case.pk}")

    page.select_option("#fax-record select[name=outcome]", "approved")
    page.fill("#fax-record input[name=authorization_number]", "AUTH-88121")
    page.fill("#fax-record input[name=effective_start]", "2026-12-01")
    page.fill("#fax-record input[name=effective_end]", "2027-02-28")
    screenshot("inbound-fax-filed-and-recording")
    page.click("#fax-record button[type=submit]")

    page.wait_for_url(f"{live_server.url}/cases/{case.pk}/")
    assert page.inner_text(f"#case-{case.pk}-status") == "Approved"
    screenshot("inbound-fax-approval-recorded")
    case.refresh_from_db()
    fax.refresh_from_db()
    assert case.authorization_number == "AUTH-88121" and fax.state == InboundFax.State.RECORDED
    assert case.documents.filter(kind="payer_letter").count() == 1
