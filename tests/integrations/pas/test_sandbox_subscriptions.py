"""The sandbox payer's subscriptions: `POST [base]/Subscription` (the PAS topic and the reference
implementation's older shape), the push schedule over real HTTP, and the whole loop with the app's
own notify endpoint: subscribe, submit, the decision becomes visible, the push wakes the case and
the $inquire decides it."""

import json
import logging
from datetime import timedelta

import pytest
from django.utils import timezone

from cases.models import CaseEvent, Status
from integrations.pas.bundle import build_request_bundle
from integrations.pas.models import PayerSubscription, SandboxClaim, SandboxNotification, SandboxSubscription
from integrations.pas.sandbox import claim_response_id
from integrations.pas.sandbox_notify import sandbox_push_due
from integrations.pas.subscriptions import PAS_TOPIC, STATUS_R4, subscription_ensure, subscription_resource
from integrations.pas.tasks import sandbox_push
from integrations.submission.models import PayerLink
from integrations.submission.services import submission_request
from tests.integrations.pas.conftest import RI_DIR, load

NPI = "1234567893"
FHIR = "/sandbox/payer/harbor/fhir"


@pytest.fixture
def sandbox_on(settings, sandbox_payer):
    settings.SANDBOX_ENABLED = True
    # These tests post shapes straight to the sandbox; its bearer-token check is tested in test_payer_auth.py.
    sandbox_payer.require_auth = False
    sandbox_payer.save(update_fields=["require_auth"])
    return sandbox_payer


@pytest.fixture(autouse=True)
def _endpoints_on_our_origin(request, settings):
    # The sandbox posts only to this app's own origin (PUBLIC_BASE_URL): here the test's endpoint plays the app.
    if "endpoint" in request.fixturenames:
        settings.PUBLIC_BASE_URL = request.getfixturevalue("endpoint").url
    else:
        settings.PUBLIC_BASE_URL = "http://127.0.0.1:9"


def _subscription(endpoint_url: str, *, org=NPI, content="id-only", secret="sub-secret") -> dict:
    resource = {
        "resourceType": "Subscription",
        "status": "requested",
        "reason": "tests",
        "criteria": PAS_TOPIC,
        "_criteria": {
            "extension": [
                {
                    "url": "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-filter-criteria",
                    "valueString": f"org-identifier={org}",
                }
            ]
        },
        "channel": {
            "type": "rest-hook",
            "endpoint": endpoint_url,
            "header": [f"Authorization: Bearer {secret}"],
            "payload": "application/fhir+json",
            "_payload": {
                "extension": [
                    {
                        "url": "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-payload-content",
                        "valueCode": content,
                    }
                ]
            },
        },
    }
    return resource


def _post(client, body, path="Subscription"):
    data = body if isinstance(body, str) else json.dumps(body)
    return client.post(f"{FHIR}/{path}", data=data, content_type="application/fhir+json")


def _submit(client, case, key):
    return _post(client, build_request_bundle(case, submission_key=key), "Claim/$submit")


def test_a_pas_topic_subscription_is_taken_active_with_a_handshake_to_come(client, sandbox_on, endpoint):
    r = _post(client, _subscription(f"{endpoint.url}/notify"))
    assert r.status_code == 201, r.content
    answer = r.json()
    assert answer["resourceType"] == "Subscription" and answer["status"] == "active" and answer["id"]
    assert r["Location"] == f"http://testserver{FHIR}/Subscription/{answer['id']}"
    sub = SandboxSubscription.objects.get(pk=answer["id"])
    assert (sub.kind, sub.filters, sub.payload_content) == ("topic", {"org-identifier": [NPI]}, "id-only")
    assert sub.headers == ["Authorization: Bearer sub-secret"]
    # the handshake waits for the next push: after this answer
    assert list(sub.notifications.values_list("kind", "state")) == [("handshake", "pending")]
    assert endpoint.received == []
    got = client.get(f"{FHIR}/Subscription/{answer['id']}")
    assert got.status_code == 200 and got.json()["status"] == "active"


def test_our_own_subscription_resource_is_taken(client, sandbox_on, pas_case, settings):
    from integrations.submission.models import PayerLink

    settings.PUBLIC_BASE_URL = "http://127.0.0.1:8000"
    pas_case.practice.npi = NPI
    link = PayerLink.objects.create(payer=pas_case.payer, notify_secret="x")
    resource = subscription_resource(payer=pas_case.payer, practice=pas_case.practice, secret=link.notify_secret)
    assert _post(client, resource).status_code == 201


def test_the_reference_implementation_subscription_is_accepted(client, sandbox_on, settings):
    settings.PUBLIC_BASE_URL = "http://localhost:9090"  # the reference implementation's own subscriber
    r = _post(client, load(RI_DIR / "subscription-resthook.json"))
    assert r.status_code == 201, r.content
    sub = SandboxSubscription.objects.get(pk=r.json()["id"])
    assert sub.kind == "criteria"
    assert sub.filters == {"identifier": ["pended"], "patient.identifier": ["pat013"], "status": ["active"]}
    assert sub.endpoint.startswith("http://localhost:9090/fhir/SubscriptionNotification")
    assert not sub.notifications.exists()  # the older shape has no handshake


def _broken(change):
    body = _subscription("http://127.0.0.1:9/notify")
    change(body)
    return body


@pytest.mark.parametrize(
    "body,said",
    [
        ("{not json", "Expecting"),
        ({"resourceType": "Patient"}, "expected a Subscription"),
        (_broken(lambda b: b["channel"].update(type="websocket")), "only rest-hook"),
        (_broken(lambda b: b["channel"].update(endpoint="http://169.254.169.254/latest")), "own address"),
        (_broken(lambda b: b["channel"].update(endpoint="https://127.0.0.1:9/notify")), "own address"),
        (_broken(lambda b: b["channel"].update(endpoint="ftp://x")), "http(s) URL"),
        (_broken(lambda b: b["channel"].update(header="Authorization: x")), "list of 'Name: value'"),
        (_broken(lambda b: b.pop("_criteria")), "org-identifier=<your org id>"),
        (_broken(lambda b: b.update(criteria="http://example.org/SubscriptionTopic/admission")), "unknown topic"),
        (
            _broken(lambda b: b["_criteria"]["extension"][0].update(valueString="patient=Patient/1")),
            "filters only by org-identifier",
        ),
        (_broken(lambda b: b["channel"]["_payload"]["extension"][0].update(valueCode="all")), "payload content"),
        (_broken(lambda b: b.update(criteria="")), "criteria is required"),
    ],
)
def test_a_subscription_the_sandbox_cannot_serve_is_refused_with_the_reason(client, sandbox_on, body, said):
    r = _post(client, body)
    assert r.status_code == 400
    assert r.json()["resourceType"] == "OperationOutcome" and said in r.json()["issue"][0]["details"]["text"]
    assert not SandboxSubscription.objects.exists()


def test_the_subscription_endpoint_is_off_without_the_sandbox(client, sandbox_payer, settings):
    settings.SANDBOX_ENABLED = False
    assert _post(client, _subscription("http://127.0.0.1:9/")).status_code == 404
    assert sandbox_push() == {"skipped": "SANDBOX_ENABLED is off"}


# --- the push ------------------------------------------------------------------------------------


@pytest.fixture
def npi_case(pas_case):
    pas_case.practice.npi = NPI
    pas_case.practice.save()
    return pas_case


def test_push_sends_the_handshake_then_one_id_only_event_per_matching_decision(
    client, sandbox_on, npi_case, endpoint, practice
):
    sub_id = _post(client, _subscription(f"{endpoint.url}/notify")).json()["id"]
    sandbox_on.decision_delay_seconds = 3600
    sandbox_on.save()
    assert _submit(client, npi_case, "key-1").status_code == 200
    # a request of another organization: not for this subscriber
    npi_case.practice.npi = "1999999992"
    npi_case.practice.save()
    assert _submit(client, npi_case, "key-other").status_code == 200
    assert SandboxClaim.objects.get(claim_identifier="key-1").requester_identifier == NPI

    assert sandbox_push_due() == {"queued": 0, "sent": 1, "retrying": 0, "failed": 0}
    (handshake,) = endpoint.json_bodies()
    assert endpoint.received[0]["headers"]["Authorization"] == "Bearer sub-secret"
    status = handshake["entry"][0]["resource"]
    assert handshake["type"] == "history" and status["resourceType"] == "Parameters"
    assert status["meta"]["profile"] == [STATUS_R4]
    params = {p["name"]: p for p in status["parameter"]}
    assert params["type"]["valueCode"] == "handshake"
    assert params["subscription"]["valueReference"]["reference"].endswith(f"{FHIR}/Subscription/{sub_id}")

    # nothing decided yet: nothing to say
    assert sandbox_push_due()["sent"] == 0
    SandboxClaim.objects.update(decide_at=timezone.now() - timedelta(seconds=1))
    assert sandbox_push_due() == {"queued": 1, "sent": 1, "retrying": 0, "failed": 0}
    event = endpoint.json_bodies()[1]
    params = {p["name"]: p for p in event["entry"][0]["resource"]["parameter"]}
    assert params["type"]["valueCode"] == "event-notification"
    assert params["events-since-subscription-start"]["valueString"] == "1"
    claim = SandboxClaim.objects.get(claim_identifier="key-1")
    focus_url = f"http://testserver{FHIR}/ClaimResponse/{claim_response_id(claim)}"
    parts = {p["name"]: p for p in params["notification-event"]["part"]}
    assert parts["focus"]["valueReference"]["reference"] == focus_url
    assert parts["additional-context"]["valueReference"]["identifier"]["value"] == "key-1"
    (focus,) = event["entry"][1:]
    assert focus["fullUrl"] == focus_url and "resource" not in focus  # id-only
    # no PHI in an id-only push
    raw = endpoint.received[1]["body"].decode()
    for phi in (npi_case.patient.last_name, npi_case.patient.first_name, npi_case.patient.mrn):
        assert phi not in raw
    # told once
    assert sandbox_push_due() == {"queued": 0, "sent": 0, "retrying": 0, "failed": 0}
    assert len(endpoint.received) == 2


def test_a_decision_in_the_submit_answer_is_not_pushed(client, sandbox_on, npi_case, endpoint):
    _post(client, _subscription(f"{endpoint.url}/notify"))
    assert _submit(client, npi_case, "key-now").status_code == 200  # delay 0: decided in the answer
    assert SandboxClaim.objects.get().notified_at is not None
    assert sandbox_push_due()["queued"] == 0


def test_full_resource_push_carries_the_claim_response(client, sandbox_on, npi_case, endpoint):
    _post(client, _subscription(f"{endpoint.url}/notify", content="full-resource"))
    sandbox_on.decision_delay_seconds = 3600
    sandbox_on.save()
    _submit(client, npi_case, "key-full")
    SandboxClaim.objects.update(decide_at=timezone.now())
    sandbox_push_due()
    focus = endpoint.json_bodies()[-1]["entry"][1]
    assert focus["resource"]["resourceType"] == "ClaimResponse" and focus["resource"]["outcome"] == "complete"


def test_the_older_shape_gets_a_ping_for_its_request(client, sandbox_on, npi_case, endpoint):
    body = load(RI_DIR / "subscription-resthook.json")
    body["criteria"] = "identifier=key-ri&status=active"
    body["channel"]["endpoint"] = f"{endpoint.url}/ri"
    _post(client, body)
    sandbox_on.decision_delay_seconds = 3600
    sandbox_on.save()
    _submit(client, npi_case, "key-ri")
    _submit(client, npi_case, "key-not-watched")
    SandboxClaim.objects.update(decide_at=timezone.now())
    assert sandbox_push_due()["sent"] == 1
    (ping,) = endpoint.received
    assert ping["path"] == "/ri" and ping["body"] == b""  # no payload asked for: no body


def test_a_failing_endpoint_is_retried_then_given_up_and_logged_by_id(client, sandbox_on, npi_case, endpoint, caplog):
    endpoint.reply((500, b"down"))
    sub_id = _post(client, _subscription(f"{endpoint.url}/notify")).json()["id"]
    assert sandbox_push_due()["retrying"] == 1
    note = SandboxNotification.objects.get()
    assert note.attempts == 1 and note.state == "pending" and "HTTP 500" in note.last_error
    assert note.next_attempt_at > timezone.now()
    assert sandbox_push_due()["sent"] == 0  # not due yet
    later = timezone.now() + timedelta(minutes=3)
    assert sandbox_push_due(now=later)["retrying"] == 1
    with caplog.at_level(logging.WARNING, logger="integrations.pas.sandbox_notify"):
        assert sandbox_push_due(now=later + timedelta(minutes=10))["failed"] == 1
    note.refresh_from_db()
    assert note.state == "failed" and note.attempts == 3
    assert len(endpoint.received) == 3
    assert f"handshake {note.pk} to subscription {sub_id} failed after 3 attempts" in caplog.text
    # a subscription whose handshake never arrived is in error and gets no events
    assert SandboxSubscription.objects.get(pk=sub_id).fhir_status == "error"


# --- the whole loop over HTTP -----------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_subscribe_submit_push_wakes_the_case_and_the_inquire_decides_it(
    sandboxed, pas_case, coordinator, live_server, settings, q_sync
):
    settings.PUBLIC_BASE_URL = live_server.url
    PayerLink.objects.filter(payer=pas_case.payer).update(notify_secret="loop-secret")
    pas_case.practice.npi = NPI
    pas_case.practice.save()

    # subscribe: the sandbox answers active, its handshake reaches our notify endpoint
    row = subscription_ensure(payer_id=pas_case.payer_id, practice_id=pas_case.practice_id)
    assert row.state == PayerSubscription.State.ACTIVE and row.subscription_id, row.last_error
    assert sandbox_push_due()["sent"] == 1
    row.refresh_from_db()
    assert row.handshake_at is not None

    # submit: the payer has it, no decision yet
    sandboxed.decision_delay_seconds = 3600
    sandboxed.save()
    submission = submission_request(case=pas_case, actor=coordinator)  # q sync: sent on commit
    pas_case.refresh_from_db()
    assert pas_case.status == Status.SUBMITTED
    assert submission.__class__.objects.get(pk=submission.pk).payer_response_id
    far = pas_case.next_poll_at
    assert far > timezone.now() + timedelta(hours=1)  # the poller would not look for hours

    # the decision becomes visible; the push (called directly, not after a minute) reaches notify,
    # which wakes the case, and the $inquire it enqueues (inline) applies the decision
    SandboxClaim.objects.update(decide_at=timezone.now() - timedelta(seconds=1))
    assert sandbox_push_due() == {"queued": 1, "sent": 1, "retrying": 0, "failed": 0}
    pas_case.refresh_from_db()
    assert pas_case.status == Status.APPROVED
    timeline = list(pas_case.events.order_by("created_at", "pk").values_list("kind", "message", "to_status"))
    woke = timeline.index((CaseEvent.Kind.PAYER, "Payer notification received: checking status", ""))
    decided = next(i for i, e in enumerate(timeline) if e[2] == Status.APPROVED)
    assert woke < decided
    row.refresh_from_db()
    assert row.last_notified_at >= row.handshake_at

    # a second push tells nobody anything new
    assert sandbox_push_due() == {"queued": 0, "sent": 0, "retrying": 0, "failed": 0}


def test_push_does_not_post_to_an_endpoint_that_is_no_longer_our_origin(client, sandbox_on, endpoint, settings):
    # given a subscription taken while its endpoint was this app's origin
    assert _post(client, _subscription(f"{endpoint.url}/notify")).status_code == 201
    # when the app's public address changes (PUBLIC_BASE_URL) before the push
    settings.PUBLIC_BASE_URL = "https://pa.example.org"
    sandbox_push_due()
    # then nothing is sent to the old address
    assert endpoint.received == []
    assert SandboxNotification.objects.get().sent_at is None
