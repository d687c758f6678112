"""Click through answering a pended PAS request in Chromium: upload, "Send additional information",
the background send, the payer's decision — against the app's own sandbox payer."""

import pytest

from cases.models import Status
from integrations.pas.models import SandboxPayer
from integrations.pas.sandbox_auth import sandbox_credentials_ensure
from integrations.submission.models import PayerLink, Submission
from integrations.submission.services import submission_request, submission_send
from integrations.submission.tasks import submit
from payers.models import Channel
from tests import factories as f

pytestmark = pytest.mark.e2e


@pytest.mark.django_db(transaction=True)
def test_coordinator_answers_a_pended_request_and_the_payer_decides(
    login, page, live_server, screenshot, practice, owner_provider, coordinator, settings, tmp_path
):
    settings.SANDBOX_ENABLED = True
    settings.MEDIA_ROOT = tmp_path
    sandbox = SandboxPayer.objects.create(
        slug="harbor", approve_weight=0, partial_weight=0, deny_weight=0, pend_weight=1, decision_delay_seconds=0
    )
    payer = f.PayerFactory(
        name="Harbor Medicare Advantage",
        default_channel=Channel.PAS,
        fhir_base_url=f"{live_server.url}/sandbox/payer/harbor/fhir",
    )
    PayerLink.objects.create(payer=payer)
    sandbox_credentials_ensure(payer=payer, sandbox=sandbox, base_url=live_server.url)  # the sandbox wants a token
    order = f.OrderFactory(
        practice=practice, ordering_provider=owner_provider, patient__last_name="Okafor", patient__first_name="Ada"
    )
    order.coverage = f.CoverageFactory(patient=order.patient, payer=payer)
    order.save()
    case = f.CaseFactory(order=order, payer=payer, status=Status.READY, channel="pas")
    first = submission_request(case=case, actor=coordinator)
    submission_send(submission_id=first.pk)  # the sandbox pends it at once
    case.refresh_from_db()
    assert case.status == Status.PENDED
    sandbox.approve_weight, sandbox.pend_weight = 1, 0
    sandbox.save()

    login(coordinator)
    page.goto(f"{live_server.url}/cases/{case.pk}/")
    assert page.inner_text(f"#case-{case.pk}-status") == "Pended: info requested"
    pdf = tmp_path / "note.pdf"
    pdf.write_bytes(f.PDF_BYTES)
    page.set_input_files("#upload-form input[type=file]", str(pdf))
    page.fill("#upload-form input[name=title]", "Office note 03/02")
    page.click("#upload-form button[type=submit]")
    page.wait_for_selector(f"#case-{case.pk}-timeline >> text=Uploaded: Office note 03/02")

    page.click("summary:has-text('Send additional information')")
    page.fill("#send-update-form textarea[name=message]", "Functional limitation is documented in the note.")
    screenshot("pended_update")
    page.click("#send-update-form button[type=submit]")
    page.wait_for_selector(f"#case-{case.pk}-submission >> text=Sending the additional information")
    page.wait_for_selector(f"#case-{case.pk}-timeline >> text=Information for the payer")

    # The worker sends it; the section, polling while in flight, shows the payer's receipt.
    update = Submission.objects.get(case=case, kind=Submission.Kind.UPDATE)
    assert submit(update.pk) == Submission.State.ACCEPTED
    page.wait_for_selector(f"#case-{case.pk}-submission >> text=Additional information received")
    page.reload()
    assert page.inner_text(f"#case-{case.pk}-status") == "Approved"
    timeline = page.inner_text(f"#case-{case.pk}-timeline")
    assert "Additional information sent to Harbor Medicare Advantage" in timeline
    assert "Pended: info requested → Submitted" in timeline
