from cases.models import Status
from integrations.pas.demo import demo_pas_sandbox
from integrations.pas.models import PayerLink, SandboxClaim, SandboxPayer
from tests import factories as f


def test_demo_points_pas_payers_at_the_sandbox_and_registers_submitted_cases(pas_case, settings):
    settings.SANDBOX_ENABLED = True
    pas_case.status = Status.SUBMITTED
    pas_case.save()
    portal = f.PayerFactory(name="Portal payer", default_channel="portal")
    assert demo_pas_sandbox(base_url="http://127.0.0.1:8000/") == 1
    pas_case.payer.refresh_from_db()
    assert pas_case.payer.fhir_base_url == "http://127.0.0.1:8000/sandbox/payer/harbor-medicare-advantage/fhir"
    assert SandboxPayer.objects.filter(slug="harbor-medicare-advantage").exists()
    assert PayerLink.objects.get(payer=pas_case.payer).poll_minutes == 1
    assert SandboxClaim.objects.get().claim_identifier == f"case-{pas_case.pk}"
    pas_case.refresh_from_db()
    assert pas_case.next_poll_at is not None
    portal.refresh_from_db()
    assert portal.fhir_base_url == ""


def test_demo_wiring_is_off_without_the_sandbox(pas_case, settings):
    settings.SANDBOX_ENABLED = False
    assert demo_pas_sandbox(base_url="http://x") == 0
    assert not SandboxPayer.objects.exists()
