"""The payer notification endpoint (secret, hint only) and the case page's submission fragment."""

import json

import pytest
from django.utils import timezone

from cases.models import CaseEvent, Status
from integrations.submission.models import PayerLink, Submission

SECRET = "s3cret-token-for-tests"


@pytest.fixture
def notifiable(pas_case):
    PayerLink.objects.create(payer=pas_case.payer, notify_secret=SECRET)
    pas_case.status = Status.SUBMITTED
    pas_case.next_poll_at = timezone.now() + timezone.timedelta(hours=6)
    pas_case.save()
    Submission.objects.create(
        case=pas_case, channel="pas", idempotency_key=f"case-{pas_case.pk}-sub-1", state=Submission.State.ACCEPTED
    )
    return pas_case


def _notification(key):
    return {
        "resourceType": "Bundle",
        "type": "history",
        "entry": [
            {"resource": {"resourceType": "SubscriptionStatus", "type": "event-notification"}},
            {"resource": {"resourceType": "ClaimResponse", "request": {"identifier": {"value": key}}}},
        ],
    }


def _post(client, payer_id, body, secret=SECRET):
    return client.post(
        f"/integrations/pas/notify/{payer_id}/",
        data=json.dumps(body),
        content_type="application/fhir+json",
        HTTP_AUTHORIZATION=f"Bearer {secret}",
    )


def test_notification_wakes_the_case_for_an_inquire(client, notifiable, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        r = _post(client, notifiable.payer_id, _notification(f"case-{notifiable.pk}-sub-1"))
    assert r.status_code == 202 and r.json()["accepted"] == 1
    assert len(callbacks) == 1  # the poll task, enqueued after commit
    notifiable.refresh_from_db()
    assert notifiable.status == Status.SUBMITTED  # a hint only: nothing applied from the payload
    assert notifiable.next_poll_at <= timezone.now()
    assert notifiable.events.filter(kind=CaseEvent.Kind.PAYER).count() == 1


@pytest.mark.parametrize("secret", ["wrong", "", SECRET + "x"])
def test_bad_secret_is_refused_and_changes_nothing(client, notifiable, secret):
    before = notifiable.next_poll_at
    r = _post(client, notifiable.payer_id, _notification(f"case-{notifiable.pk}-sub-1"), secret=secret)
    assert r.status_code == 401
    notifiable.refresh_from_db()
    assert notifiable.next_poll_at == before


def test_payer_without_a_secret_accepts_nothing(client, pas_case):
    assert _post(client, pas_case.payer_id, {}, secret="").status_code == 401


def test_notification_cannot_wake_another_payers_case(client, notifiable):
    from tests import factories as f

    other = f.PayerFactory(name="Other")
    PayerLink.objects.create(payer=other, notify_secret="other-secret")
    r = _post(client, other.pk, _notification(f"case-{notifiable.pk}-sub-1"), secret="other-secret")
    assert r.status_code == 202 and r.json()["accepted"] == 0


def test_submission_fragment_access_matrix(
    client, pas_case, coordinator, manager, owner_clinician, other_clinician, outsider, front_desk
):
    Submission.objects.create(case=pas_case, channel="pas", idempotency_key="k1")
    url = f"/cases/{pas_case.pk}/submission/"
    for user, status in [
        (coordinator, 200),
        (manager, 200),
        (front_desk, 403),  # minimum necessary: the payer's words are not the front desk's
        (owner_clinician, 200),
        (other_clinician, 404),
        (outsider, 404),
    ]:
        client.force_login(user)
        r = client.get(url)
        assert r.status_code == status, user.username
    client.force_login(coordinator)
    body = client.get(url).content.decode()
    assert "Submitting…" in body and 'hx-trigger="every 2s"' in body


def test_fragment_shows_receipt_and_error(client, coordinator, pas_case):
    sub = Submission.objects.create(
        case=pas_case,
        channel="pas",
        idempotency_key="k1",
        state=Submission.State.FAILED,
        error="payer refused: bad NPI",
    )
    client.force_login(coordinator)
    assert "payer refused: bad NPI" in client.get(f"/cases/{pas_case.pk}/submission/").content.decode()
    sub.state, sub.payer_tracking_id, sub.accepted_at = Submission.State.ACCEPTED, "SBX-000042", timezone.now()
    sub.save()
    body = client.get(f"/cases/{pas_case.pk}/submission/").content.decode()
    assert "SBX-000042" in body and "every 2s" not in body


def test_sandbox_is_off_when_disabled(client, settings, sandbox_payer):
    settings.SANDBOX_ENABLED = False
    r = client.post("/sandbox/payer/harbor/fhir/Claim/$submit", data="{}", content_type="application/fhir+json")
    assert r.status_code == 404


def test_fragment_for_a_case_submitted_without_a_submission_row(client, coordinator, pas_case):
    pas_case.status, pas_case.submitted_at, pas_case.payer_tracking_id = Status.SUBMITTED, timezone.now(), "HMA01-1"
    pas_case.save()
    client.force_login(coordinator)
    body = client.get(f"/cases/{pas_case.pk}/submission/").content.decode()
    assert "HMA01-1" in body and "Not submitted yet" not in body
