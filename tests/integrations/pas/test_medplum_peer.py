"""The PAS client over real HTTP against Medplum's FHIR engine playing the payer
(tests/peers/pas_payer_server.mjs): our request bundles are validated by a FHIR
implementation that is not ours, and its answers go through our parser."""

import pytest
import requests
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from cases.actions import case_cancel, case_send_update
from cases.documents import document_upload
from cases.models import Status
from integrations.base import DecisionStatus as D
from integrations.base import IntegrationError
from integrations.pas.bundle import CLAIM_UPDATE_PROFILE, SUBMISSION_SYSTEM
from integrations.pas.channel import PasChannel
from integrations.pas.models import PayerSubscription
from integrations.pas.subscriptions import PAS_TOPIC, subscription_ensure
from integrations.submission.models import Exchange, PayerLink, Submission
from integrations.submission.polling import case_poll
from integrations.submission.services import submission_request, submission_send
from tests import factories as f


def test_submit_is_accepted_by_medplum_and_decision_parsed(peer, full_case, coordinator):
    sub = submission_request(case=full_case, actor=coordinator)
    submission_send(submission_id=sub.pk)
    sub.refresh_from_db()
    full_case.refresh_from_db()
    assert sub.state == Submission.State.ACCEPTED, sub.error
    assert full_case.status == Status.APPROVED
    assert full_case.authorization_number == "PEER-AUTH-1"
    assert str(full_case.auth_effective_end) == "2026-05-30"
    log = [r for r in peer.requests_log() if r["path"].startswith("/Claim/$")]
    assert log == [{"method": "POST", "path": "/Claim/$submit", "contentType": "application/fhir+json"}]


# A drug reaches PAS only on the medical benefit (a J-code); pharmacy drugs go to ePA (test_drug_benefit.py).
@pytest.mark.parametrize("kind,code,system", [("medication", "J1745", "HCPCS"), ("device", "E0601", "HCPCS")])
def test_medication_and_device_requests_validate(peer, full_case, kind, code, system):
    order = full_case.order
    order.kind, order.code, order.code_system = kind, code, system
    order.save()
    receipt = PasChannel().submit(full_case, submission_key=f"k-{kind}")
    assert receipt.decision is not None and receipt.decision.status == D.APPROVED


def test_queued_then_inquire_reads_the_stored_claim_response(peer, full_case, coordinator):
    peer.admin("decide", {"code": "queued"})
    sub = submission_request(case=full_case, actor=coordinator)
    submission_send(submission_id=sub.pk)
    full_case.refresh_from_db()
    assert full_case.status == Status.SUBMITTED
    decision = PasChannel().check_status(full_case, submission_key=sub.idempotency_key)
    assert decision.status == D.STILL_PENDING
    assert case_poll(case_id=full_case.pk) == "no change"
    assert PasChannel().check_status(full_case, submission_key="never-sent") is None


def test_denial_through_the_peer(peer, full_case, coordinator):
    peer.admin("decide", {"code": "A3"})
    sub = submission_request(case=full_case, actor=coordinator)
    submission_send(submission_id=sub.pk)
    full_case.refresh_from_db()
    assert full_case.status == Status.DENIED and full_case.denial_reason_code == "MN01"


def test_invalid_resource_is_refused_by_the_peer_as_permanent(peer, full_case, monkeypatch):
    from integrations.pas import channel as channel_module

    real = channel_module.build_request_bundle

    def broken(case, **kwargs):
        bundle = real(case, **kwargs)
        bundle["entry"][1]["resource"]["birthDate"] = "17 May 1970"  # not a FHIR date
        return bundle

    monkeypatch.setattr(channel_module, "build_request_bundle", broken)
    with pytest.raises(IntegrationError) as err:
        PasChannel().submit(full_case, submission_key="k-bad")
    assert err.value.permanent and "HTTP 400" in str(err.value)
    assert Exchange.objects.get(case=full_case).result == Exchange.Result.ERROR


def test_timeout_and_503_are_transient(peer, full_case):
    peer.admin("fault", {"match": "$submit", "mode": "timeout", "times": 1})
    with pytest.raises(IntegrationError) as err:
        PasChannel().submit(full_case, submission_key="k-t")
    assert not err.value.permanent and "in time" in str(err.value)
    peer.admin("fault", {"match": "$inquire", "mode": "503", "times": 1})
    with pytest.raises(IntegrationError) as err:
        PasChannel().check_status(full_case, submission_key="k-t")
    assert not err.value.permanent and "503" in str(err.value)


def _stored_claims(peer, key):
    found = requests.get(f"{peer.base}/Claim", params={"identifier": f"{SUBMISSION_SYSTEM}|{key}"}, timeout=10).json()
    return [e["resource"] for e in found.get("entry") or []]


def test_claim_update_answering_a_pend_is_accepted_by_medplum(peer, full_case, coordinator, settings, tmp_path):
    full_case.summary_attested_text, full_case.summary_attested_at = full_case.summary_text, timezone.now()
    full_case.save()
    peer.admin("decide", {"code": "A4"})
    first = submission_request(case=full_case, actor=coordinator)
    submission_send(submission_id=first.pk)
    full_case.refresh_from_db()
    assert full_case.status == Status.PENDED
    settings.MEDIA_ROOT = tmp_path
    document_upload(
        case=full_case,
        actor=coordinator,
        file=SimpleUploadedFile("note.pdf", f.PDF_BYTES, "application/pdf"),
        title="Office note",
    )
    peer.admin("decide", {"code": "A1"})
    update = case_send_update(case=full_case, actor=coordinator, message="The office note documents it.")
    submission_send(submission_id=update.pk)
    update.refresh_from_db()
    full_case.refresh_from_db()
    assert update.state == Submission.State.ACCEPTED, update.error
    assert full_case.status == Status.APPROVED
    # Medplum validated every entry; the harness resolved Claim.related to the stored first Claim.
    (original,) = _stored_claims(peer, first.idempotency_key)  # the prior copy is not stored twice
    (stored,) = _stored_claims(peer, update.idempotency_key)
    assert stored["related"][0]["claim"]["reference"] == f"Claim/{original['id']}"
    assert stored["meta"]["profile"] == [CLAIM_UPDATE_PROFILE]
    assert [i["sequence"] for i in stored["supportingInfo"]] == [1, 2, 3]


def test_cancel_is_accepted_by_medplum_and_answered_cancelled(peer, full_case, coordinator):
    peer.admin("decide", {"code": "queued"})
    first = submission_request(case=full_case, actor=coordinator)
    submission_send(submission_id=first.pk)
    case_cancel(case=full_case, actor=coordinator, reason="Order withdrawn")
    cancel = Submission.objects.get(case=full_case, kind=Submission.Kind.CANCEL)
    submission_send(submission_id=cancel.pk)
    cancel.refresh_from_db()
    assert cancel.state == Submission.State.ACCEPTED and cancel.outcome == D.CANCELLED, cancel.error
    (stored,) = _stored_claims(peer, cancel.idempotency_key)
    assert stored["extension"][0]["valueCodeableConcept"]["coding"][0]["code"] == "3"
    log = [r["path"] for r in peer.requests_log() if r["path"].startswith("/Claim/$")]
    assert log == ["/Claim/$submit", "/Claim/$submit"]


def test_cancel_of_a_request_the_payer_never_had_is_refused_as_permanent(peer, full_case):
    with pytest.raises(IntegrationError) as err:
        PasChannel().cancel(full_case, submission_key="never-sent", cancel_key="c-1")
    assert err.value.permanent and "never submitted" in str(err.value)


# --- subscriptions ----------------------------------------------------------------------------------


@pytest.fixture
def subscribable(peer, full_case, settings):
    settings.PUBLIC_BASE_URL = "https://pa.example.org"
    PayerLink.objects.create(payer=full_case.payer, notify_secret="peer-secret")
    full_case.practice.npi = "1234567893"
    full_case.practice.save()
    return full_case


def test_our_subscription_is_accepted_by_medplum(subscribable, peer):
    row = subscription_ensure(payer_id=subscribable.payer_id, practice_id=subscribable.practice_id)
    assert row.state == PayerSubscription.State.REQUESTED, row.last_error
    stored = requests.get(f"{peer.base}/Subscription/{row.subscription_id}", timeout=10).json()
    assert stored["criteria"] == PAS_TOPIC
    assert stored["_criteria"]["extension"][0]["valueString"] == "org-identifier=1234567893"
    assert stored["channel"]["_payload"]["extension"][0]["valueCode"] == "id-only"
    assert [(r["method"], r["path"]) for r in peer.requests_log()][0] == ("POST", "/Subscription")


def test_an_invalid_subscription_is_refused_by_medplum_with_its_reason(subscribable, peer, monkeypatch):
    from integrations.pas import subscriptions

    real = subscriptions.subscription_resource

    def broken(**kwargs):
        resource = real(**kwargs)
        resource["channel"]["header"] = "Authorization: Bearer x"  # must be a list of strings
        return resource

    monkeypatch.setattr(subscriptions, "subscription_resource", broken)
    row = subscription_ensure(payer_id=subscribable.payer_id, practice_id=subscribable.practice_id)
    assert row.state == PayerSubscription.State.ERROR
    assert "HTTP 400" in row.last_error and "not a valid R4 Subscription" in row.last_error
    assert "Subscription.channel.header" in row.last_error


def test_a_notification_naming_the_peers_claim_response_wakes_the_case(client, subscribable, peer, coordinator):
    peer.admin("decide", {"code": "queued"})
    sub = submission_request(case=subscribable, actor=coordinator)
    submission_send(submission_id=sub.pk)
    sub.refresh_from_db()
    (cr,) = [
        e["resource"]
        for e in requests.get(f"{peer.base}/ClaimResponse", timeout=10).json()["entry"]
        if e["resource"]["resourceType"] == "ClaimResponse"
    ]
    assert sub.payer_response_id == cr["id"]  # kept from the $submit answer
    focus = f"{peer.base}/ClaimResponse/{cr['id']}"
    body = {
        "resourceType": "Bundle",
        "type": "history",
        "entry": [
            {
                "resource": {
                    "resourceType": "Parameters",
                    "parameter": [
                        {"name": "type", "valueCode": "event-notification"},
                        {
                            "name": "notification-event",
                            "part": [{"name": "focus", "valueReference": {"reference": focus}}],
                        },
                    ],
                }
            },
            {"fullUrl": focus, "request": {"method": "PUT", "url": f"ClaimResponse/{cr['id']}"}},
        ],
    }
    r = client.post(
        f"/integrations/pas/notify/{subscribable.payer_id}/",
        data=body,
        content_type="application/fhir+json",
        HTTP_AUTHORIZATION="Bearer peer-secret",
    )
    assert r.status_code == 202 and r.json()["accepted"] == 1
