from datetime import timedelta

import pytest
from django_q.models import OrmQ

from cases.models import Status
from integrations.pas.demo import DEMO_POLL_MINUTES, demo_pas_sandbox
from integrations.pas.models import SandboxClaim, SandboxPayer
from integrations.submission.models import PayerLink
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
    link = PayerLink.objects.get(payer=pas_case.payer)
    assert link.poll_minutes == DEMO_POLL_MINUTES and link.notify_secret
    claim = SandboxClaim.objects.get()
    assert claim.claim_identifier == f"case-{pas_case.pk}"
    assert claim.notified_at is None  # its decision is pushed when it comes
    pas_case.refresh_from_db()
    # The poll is only the safety net, after the sandbox's push had its chance.
    assert pas_case.next_poll_at >= claim.decide_at + timedelta(minutes=DEMO_POLL_MINUTES)
    # The practice subscribes for notifications: a task for the cluster.
    assert OrmQ.objects.count() == 1
    # A second seed keeps the secret the sandbox's subscriptions send back.
    assert demo_pas_sandbox(base_url="http://127.0.0.1:8000/") == 1
    assert PayerLink.objects.get(payer=pas_case.payer).notify_secret == link.notify_secret
    portal.refresh_from_db()
    assert portal.fhir_base_url == ""


def test_demo_wiring_is_off_without_the_sandbox(pas_case, settings):
    settings.SANDBOX_ENABLED = False
    assert demo_pas_sandbox(base_url="http://x") == 0
    assert not SandboxPayer.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_demo_pended_case_is_answered_and_decided_by_the_sandbox(
    pas_case, coordinator, live_server, settings, tmp_path
):
    """make run: a seeded pended PAS case (no Submission row) is known to the sandbox as pended;
    staff's update is taken, decided after the delay, and the poll applies the decision."""
    from datetime import timedelta

    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.utils import timezone

    from cases.actions import case_send_update
    from cases.documents import document_upload
    from integrations.submission.models import Submission
    from integrations.submission.polling import case_poll
    from integrations.submission.services import submission_send

    settings.SANDBOX_ENABLED = True
    settings.MEDIA_ROOT = tmp_path
    pas_case.status = Status.PENDED
    pas_case.submitted_at = pas_case.status_changed_at = timezone.now() - timedelta(hours=2)
    pas_case.save()
    assert demo_pas_sandbox(base_url=live_server.url) == 1
    SandboxPayer.objects.update(error_rate=0)  # the demo's 3 % of 503s would make this test flaky
    prior = SandboxClaim.objects.get(claim_identifier=f"case-{pas_case.pk}")
    assert prior.review_action == "A4" and prior.decide_at <= timezone.now()
    # Polled before anyone answers, the sandbox knows it and it stays pended.
    assert case_poll(case_id=pas_case.pk) == "no change"
    document_upload(
        case=pas_case,
        actor=coordinator,
        file=SimpleUploadedFile("n.pdf", f.PDF_BYTES, "application/pdf"),
        title="Office note",
    )
    update = case_send_update(case=pas_case, actor=coordinator)
    assert update.replaces_key == f"case-{pas_case.pk}"
    submission_send(submission_id=update.pk)
    pas_case.refresh_from_db()
    assert Submission.objects.get(pk=update.pk).state == "accepted" and pas_case.status == Status.SUBMITTED
    decided = SandboxClaim.objects.get(claim_identifier=update.idempotency_key)
    assert decided.review_action in ("A1", "A2", "A3")  # decided again, never pended twice
    SandboxClaim.objects.filter(pk=decided.pk).update(decide_at=timezone.now())
    assert case_poll(case_id=pas_case.pk) in ("approved", "partially_approved", "denied")
