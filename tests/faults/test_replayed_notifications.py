"""The same notification delivered five times at once over real HTTP (issue 21, 5): a PAS notification
(on the real cluster, which then checks the payer and applies its decision), a Twilio status callback and a
fax service's delivery webhook. Each is applied exactly once.
"""

import threading
import uuid
from datetime import timedelta

import pytest
import requests
from django.utils import timezone

from cases.models import CaseEvent, PriorAuthCase, Status
from integrations.ehr_fhir.models import WriteBack
from integrations.pas.models import SandboxClaim
from integrations.pas.subscriptions import PAS_TOPIC, STATUS_R4
from integrations.sms_twilio.models import DeliveryState, DeliveryStatusEvent, OutboundMessage
from integrations.submission.models import PayerLink, Submission
from integrations.submission.services import submission_request
from tests import factories as f
from tests.faults.conftest import SUPERVISE
from tests.faults.world import invariant_breaches, world_add_case
from tests.integrations.sms_twilio.conftest import sign

# The fault group: a real cluster on PostgreSQL; `-m faults` runs only it, `-m 'not faults'` skips it.
pytestmark = pytest.mark.faults

TIMES = 5
SECRET = "notify-secret-for-the-fault-tests"


def at_once(n: int, send) -> list[int]:
    """Call `send()` from n threads released together; their HTTP status codes."""
    barrier = threading.Barrier(n)
    codes: list[int] = []

    def one():
        barrier.wait()
        codes.append(send().status_code)

    threads = [threading.Thread(target=one) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return codes


def notification(key: str) -> dict:
    """An R4 Backport event notification naming our request by its identifier (as additional context)."""
    status_id = str(uuid.uuid4())
    event = [
        {"name": "event-number", "valueString": "1"},
        {"name": "focus", "valueReference": {"reference": "https://payer.example.org/fhir/ClaimResponse/x"}},
        {
            "name": "additional-context",
            "valueReference": {"identifier": {"system": "urn:priorauth:submission", "value": key}},
        },
    ]
    params = [
        {"name": "topic", "valueCanonical": PAS_TOPIC},
        {"name": "status", "valueCode": "active"},
        {"name": "type", "valueCode": "event-notification"},
        {"name": "events-since-subscription-start", "valueString": "1"},
        {"name": "notification-event", "part": event},
    ]
    status = {"resourceType": "Parameters", "id": status_id, "meta": {"profile": [STATUS_R4]}, "parameter": params}
    return {
        "resourceType": "Bundle",
        "type": "history",
        "timestamp": timezone.now().isoformat(),
        "entry": [{"fullUrl": f"urn:uuid:{status_id}", "resource": status}],
    }


@pytest.mark.django_db(transaction=True)
def test_a_pas_notification_and_a_status_callback_replayed_at_once_apply_once(
    world, live_server, supervised, settings, monkeypatch
):
    # Given a case submitted on a supervised cluster, still undecided at the payer, and not due for a poll
    world.sandbox.decision_delay_seconds = 3600
    world.sandbox.save()
    world.relay.delay = world.carrier.delay = 0
    PayerLink.objects.filter(payer=world.payer).update(notify_secret=SECRET)
    cluster = supervised(*SUPERVISE, env=world.env)
    cluster.wait_for(lambda: len(cluster.worker_pids()) >= 2, 90, "workers")
    actor = f.UserFactory(practice=world.practice, roles=["coordinator"])
    case = world_add_case(world, 1)
    submission_request(case=case, actor=actor)
    cluster.wait_for(
        lambda: Submission.objects.filter(case=case, state=Submission.State.ACCEPTED).exists(), 60, "the receipt"
    )
    key = Submission.objects.get(case=case).idempotency_key
    PriorAuthCase.objects.filter(pk=case.pk).update(next_poll_at=timezone.now() + timedelta(hours=1))

    # When the payer decides and its notification naming the request arrives five times at once
    SandboxClaim.objects.filter(claim_identifier=key).update(decide_at=timezone.now())
    body = notification(key)
    codes = at_once(
        TIMES,
        lambda: requests.post(
            f"{live_server.url}/integrations/pas/notify/{world.payer.pk}/",
            json=body,
            headers={"Authorization": f"Bearer {SECRET}", "Content-Type": "application/fhir+json"},
            timeout=30,
        ),
    )
    assert codes == [202] * TIMES

    # Then the case is woken once, checked, and the payer's decision applied once: one text, one write-back
    cluster.wait_for(
        lambda: (
            WriteBack.objects.filter(case=case, state=WriteBack.State.DONE).exists()
            and OutboundMessage.objects.filter(case=case, twilio_sid__isnull=False).exists()
        ),
        60,
        "the decision's text and write-back",
    )
    assert CaseEvent.objects.filter(case=case, message__startswith="Payer notification received").count() == 1
    assert invariant_breaches([case.pk], texts_at_carrier=world.carrier.texts()) == []

    # When Twilio's "delivered" callback for that text arrives five times at once
    message = OutboundMessage.objects.get(case=case)
    for name in ("SMS_BACKEND", "TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_FROM_NUMBER"):
        monkeypatch.setenv(name, world.env[name])
    settings.PUBLIC_BASE_URL = live_server.url
    path = f"/integrations/twilio/status?ob={message.idempotency_key}"
    url = live_server.url + path
    form = {"MessageSid": message.twilio_sid, "MessageStatus": "delivered", "To": case.patient.mobile_phone}
    signature = sign(path, form, token=world.env["TWILIO_AUTH_TOKEN"], base=live_server.url)
    codes = at_once(TIMES, lambda: requests.post(url, data=form, headers={"X-Twilio-Signature": signature}, timeout=30))
    # Then it is recorded and applied once: one status event, one timeline line
    assert codes == [204] * TIMES
    message.refresh_from_db()
    assert message.delivery_state == DeliveryState.DELIVERED
    assert DeliveryStatusEvent.objects.filter(sid=message.twilio_sid, state="delivered").count() == 1
    assert CaseEvent.objects.filter(case=case, message__endswith="text delivered").count() == 1
    assert PriorAuthCase.objects.get(pk=case.pk).status == Status.APPROVED


@pytest.mark.django_db(transaction=True)
def test_a_fax_delivery_webhook_replayed_at_once_accepts_the_submission_once(
    postgres_only, live_server, practice, owner_provider, coordinator, q_sync, monkeypatch, settings, tmp_path
):
    from integrations.fax.models import FaxWebhookEvent, OutboundFax
    from tests.integrations.fax.conftest import signed

    # Given a case whose fax the (sandbox) fax service has taken
    monkeypatch.setenv("FAX_BACKEND", "sandbox")
    monkeypatch.setenv("FAX_SANDBOX_DELAY_SECONDS", "0")
    monkeypatch.setenv("FAX_FROM_NUMBER", "+15550104401")
    settings.MEDIA_ROOT = tmp_path / "media"
    practice.fax = "(555) 010-4401"
    practice.save()
    payer = f.PayerFactory(name="Faxonly Health", default_channel="fax", fax="(555) 010-7701")
    patient = f.PatientFactory(practice=practice)
    coverage = f.CoverageFactory(patient=patient, payer=payer)
    order = f.OrderFactory(practice=practice, patient=patient, ordering_provider=owner_provider, coverage=coverage)
    case = f.CaseFactory(order=order, payer=payer, status=Status.READY, channel="fax")
    submission = submission_request(case=case, actor=coordinator)
    submission.refresh_from_db()
    assert submission.state == Submission.State.HANDED_OVER
    fax_id = OutboundFax.objects.get(submission=submission).dials.get().vendor_fax_id

    # When the service's "delivered" webhook arrives five times at once (the same signed event)
    body, headers = signed(
        "fax.delivered", {"fax_id": fax_id, "to": "+15550107701", "direction": "outbound", "page_count": 3}
    )
    codes = at_once(
        TIMES,
        lambda: requests.post(
            f"{live_server.url}/integrations/fax/events/",
            data=body,
            headers={**headers, "Content-Type": "application/json"},
            timeout=30,
        ),
    )

    # Then it is stored and applied once: the request accepted once, the case submitted once
    assert codes == [204] * TIMES
    submission.refresh_from_db()
    assert submission.state == Submission.State.ACCEPTED
    assert FaxWebhookEvent.objects.count() == 1
    assert case.events.filter(message__startswith="Fax delivered").count() == 1
    assert case.events.filter(kind=CaseEvent.Kind.STATUS, to_status=Status.SUBMITTED).count() == 1
