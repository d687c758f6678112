"""The notify endpoint reading R4 Backport notification Bundles: handshake and heartbeat
acknowledged without case work, event notifications waking the awaiting cases they name (by the
ClaimResponse id kept from the $submit answer, the payer's tracking id or our identifier), once."""

import json
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone
from django_q.models import OrmQ

from cases.models import CaseEvent, Status
from integrations.pas.models import PayerSubscription
from integrations.pas.subscriptions import PAS_TOPIC, STATUS_R4, notification_read
from integrations.submission.models import PayerLink, Submission

SECRET = "s3cret-token-for-tests"
BASE = "https://payer.example.org/fhir"
S = PayerSubscription.State


@pytest.fixture
def awaiting(pas_case):
    PayerLink.objects.create(payer=pas_case.payer, notify_secret=SECRET)
    pas_case.status = Status.SUBMITTED
    pas_case.next_poll_at = timezone.now() + timedelta(hours=6)
    pas_case.save()
    Submission.objects.create(
        case=pas_case,
        channel="pas",
        idempotency_key=f"case-{pas_case.pk}-sub-1",
        state=Submission.State.ACCEPTED,
        payer_tracking_id="TRK-77",
        payer_response_id="cr-0001",
    )
    return pas_case


@pytest.fixture
def subscribed(awaiting):
    return PayerSubscription.objects.create(
        payer=awaiting.payer, practice=awaiting.practice, state=S.REQUESTED, subscription_id="sub-9"
    )


def notification(kind: str, *, focus: list[str] = (), subscription="sub-9", events=1, parameters=None) -> dict:
    """An R4 Backport notification Bundle as a payer sends it (id-only: focus entries carry no resource)."""
    status_id = str(uuid.uuid4())
    params = [
        {"name": "subscription", "valueReference": {"reference": f"{BASE}/Subscription/{subscription}"}},
        {"name": "topic", "valueCanonical": PAS_TOPIC},
        {"name": "status", "valueCode": "active"},
        {"name": "type", "valueCode": kind},
        {"name": "events-since-subscription-start", "valueString": str(events)},
    ]
    for i, url in enumerate(focus):
        params.append(
            {
                "name": "notification-event",
                "part": [
                    {"name": "event-number", "valueString": str(events + i)},
                    {"name": "focus", "valueReference": {"reference": url}},
                ],
            }
        )
    params += parameters or []
    return {
        "resourceType": "Bundle",
        "type": "history",
        "timestamp": timezone.now().isoformat(),
        "entry": [
            {
                "fullUrl": f"urn:uuid:{status_id}",
                "resource": {
                    "resourceType": "Parameters",
                    "id": status_id,
                    "meta": {"profile": [STATUS_R4]},
                    "parameter": params,
                },
                "request": {"method": "GET", "url": f"{BASE}/Subscription/{subscription}/$status"},
                "response": {"status": "200"},
            },
            *(
                {
                    "fullUrl": url,
                    "request": {"method": "PUT", "url": url.split("/fhir/")[-1]},
                    "response": {"status": "200"},
                }
                for url in focus
            ),
        ],
    }


def post(client, payer_id, body, secret=SECRET, raw=None):
    return client.post(
        f"/integrations/pas/notify/{payer_id}/",
        data=raw if raw is not None else json.dumps(body),
        content_type="application/fhir+json",
        HTTP_AUTHORIZATION=f"Bearer {secret}",
    )


def _wakes(case) -> int:
    return case.events.filter(kind=CaseEvent.Kind.PAYER, message__startswith="Payer notification received").count()


def test_handshake_activates_the_subscription_and_touches_no_case(client, subscribed, awaiting):
    before = awaiting.next_poll_at
    r = post(client, awaiting.payer_id, notification("handshake", events=0))
    assert r.status_code == 200
    subscribed.refresh_from_db()
    assert subscribed.state == S.ACTIVE and subscribed.handshake_at is not None
    assert subscribed.last_notified_at is not None
    awaiting.refresh_from_db()
    assert awaiting.next_poll_at == before and _wakes(awaiting) == 0


def test_heartbeat_notes_the_time_only(client, subscribed, awaiting):
    r = post(client, awaiting.payer_id, notification("heartbeat", events=3))
    assert r.status_code == 200
    subscribed.refresh_from_db()
    assert subscribed.state == S.REQUESTED and subscribed.handshake_at is None
    assert subscribed.last_notified_at is not None
    assert _wakes(awaiting) == 0


def test_handshake_for_a_subscription_we_do_not_know_changes_nothing(client, subscribed, awaiting):
    assert post(client, awaiting.payer_id, notification("handshake", subscription="someone-else")).status_code == 200
    subscribed.refresh_from_db()
    assert subscribed.state == S.REQUESTED and subscribed.handshake_at is None


def test_handshake_does_not_turn_on_a_subscription_switched_off(client, subscribed, awaiting):
    PayerSubscription.objects.filter(pk=subscribed.pk).update(state=S.OFF)
    post(client, awaiting.payer_id, notification("handshake"))
    subscribed.refresh_from_db()
    assert subscribed.state == S.OFF


@pytest.mark.parametrize(
    "focus",
    [
        f"{BASE}/ClaimResponse/cr-0001",  # id-only: the ClaimResponse id kept from the $submit answer
        f"{BASE}/ClaimResponse/cr-0001/_history/3",
        "ClaimResponse/cr-0001",
    ],
)
def test_event_notification_wakes_the_case_named_by_its_claim_response(
    client, subscribed, awaiting, focus, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        r = post(client, awaiting.payer_id, notification("event-notification", focus=[focus]))
    assert r.status_code == 202 and r.json()["accepted"] == 1
    assert len(callbacks) == 1  # the $inquire task, after commit
    awaiting.refresh_from_db()
    assert awaiting.status == Status.SUBMITTED  # a hint: nothing applied from the payload
    assert awaiting.next_poll_at <= timezone.now()
    assert _wakes(awaiting) == 1
    subscribed.refresh_from_db()
    assert subscribed.last_notified_at is not None


def test_event_naming_a_request_by_identifier_or_tracking_id(client, subscribed, awaiting):
    # full-resource: the ClaimResponse is in the Bundle, with the payer's identifier and our request's
    body = notification("event-notification", focus=[f"{BASE}/ClaimResponse/other-id"])
    body["entry"][1]["resource"] = {
        "resourceType": "ClaimResponse",
        "id": "other-id",
        "identifier": [{"system": "urn:payer", "value": "TRK-77"}],
        "request": {"identifier": {"value": f"case-{awaiting.pk}-sub-1"}},
    }
    assert post(client, awaiting.payer_id, body).json()["accepted"] == 1


def test_event_naming_a_request_sent_without_a_submission_row(client, awaiting):
    """The demo seed's cases are known to the payer as `case-<id>` (see last_sent_key)."""
    Submission.objects.filter(case=awaiting).delete()
    context = {
        "name": "notification-event",
        "part": [
            {"name": "event-number", "valueString": "1"},
            {"name": "focus", "valueReference": {"reference": f"{BASE}/ClaimResponse/unknown"}},
            {
                "name": "additional-context",
                "valueReference": {
                    "reference": f"{BASE}/Claim/1",
                    "identifier": {"system": "urn:priorauth:submission", "value": f"case-{awaiting.pk}"},
                },
            },
        ],
    }
    body = notification("event-notification", parameters=[context])
    assert post(client, awaiting.payer_id, body).json()["accepted"] == 1


def test_replayed_notification_wakes_the_case_once(client, subscribed, awaiting, django_capture_on_commit_callbacks):
    body = notification("event-notification", focus=[f"{BASE}/ClaimResponse/cr-0001"])
    with django_capture_on_commit_callbacks(execute=True):
        first = post(client, awaiting.payer_id, body)
        second = post(client, awaiting.payer_id, body)
    assert first.json()["accepted"] == 1
    assert second.status_code == 202 and second.json() == {"accepted": 0, "already_due": 1}
    assert _wakes(awaiting) == 1
    assert [q.func() for q in OrmQ.objects.all()] == ["integrations.submission.tasks.poll_case"]  # one $inquire


def test_notification_naming_no_case_of_ours_is_accepted_with_nothing_done(client, subscribed, awaiting):
    body = notification("event-notification", focus=[f"{BASE}/ClaimResponse/not-ours"])
    r = post(client, awaiting.payer_id, body)
    assert r.status_code == 202 and r.json()["accepted"] == 0
    assert _wakes(awaiting) == 0


def test_a_decided_case_is_not_woken(client, subscribed, awaiting):
    awaiting.status = Status.APPROVED
    awaiting.save()
    body = notification("event-notification", focus=[f"{BASE}/ClaimResponse/cr-0001"])
    assert post(client, awaiting.payer_id, body).json()["accepted"] == 0


@pytest.mark.parametrize("secret", ["wrong", "", SECRET[:-1]])
def test_wrong_secret_is_refused_and_changes_nothing(client, subscribed, awaiting, secret):
    before = awaiting.next_poll_at
    for kind in ("handshake", "event-notification"):
        body = notification(kind, focus=[f"{BASE}/ClaimResponse/cr-0001"])
        assert post(client, awaiting.payer_id, body, secret=secret).status_code == 401
    subscribed.refresh_from_db()
    assert subscribed.state == S.REQUESTED and subscribed.last_notified_at is None
    awaiting.refresh_from_db()
    assert awaiting.next_poll_at == before and _wakes(awaiting) == 0


def test_a_body_that_is_not_json_is_refused(client, subscribed, awaiting):
    r = post(client, awaiting.payer_id, None, raw="<Bundle/>")
    assert r.status_code == 400
    assert _wakes(awaiting) == 0


def test_a_case_of_another_payer_is_not_woken(client, awaiting):
    from tests import factories as f

    other = f.PayerFactory(name="Other")
    PayerLink.objects.create(payer=other, notify_secret="other-secret")
    body = notification("event-notification", focus=[f"{BASE}/ClaimResponse/cr-0001"])
    assert post(client, other.pk, body, secret="other-secret").json()["accepted"] == 0


def test_r4b_subscription_status_is_read_too():
    body = {
        "resourceType": "Bundle",
        "type": "history",
        "entry": [
            {
                "resource": {
                    "resourceType": "SubscriptionStatus",
                    "type": "heartbeat",
                    "subscription": {"reference": "Subscription/abc"},
                }
            }
        ],
    }
    note = notification_read(body)
    assert (note.kind, note.subscription_id) == ("heartbeat", "abc")
    assert notification_read({"anything": "else"}).kind == ""
