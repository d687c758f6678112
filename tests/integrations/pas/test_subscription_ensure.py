"""Subscribing a practice at a payer (`subscription_ensure`): the R4 Backport Subscription we send,
what we record when something is missing or the payer fails, idempotency, and what triggers it.
The payer is a real HTTP endpoint on loopback (`endpoint`, tests/integrations/pas/conftest.py)."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone
from django_q.models import OrmQ

from cases.decisions import decision_apply
from cases.models import Status
from integrations.base import DecisionStatus, PayerDecision
from integrations.pas.models import PayerSubscription
from integrations.pas.subscriptions import (
    BACKPORT_SUBSCRIPTION,
    FILTER_CRITERIA,
    PAS_SUBSCRIPTION_PROFILE,
    PAS_TOPIC,
    PAYLOAD_CONTENT,
    subscription_ensure,
    subscription_resource,
    subscriptions_to_ensure,
)
from integrations.pas.tasks import ensure_subscriptions
from integrations.submission.models import PayerLink
from integrations.submission.services import submission_request, submission_send
from tests import factories as f

SECRET = "notify-secret-for-tests"
S = PayerSubscription.State


@pytest.fixture
def configured(pas_case, settings, endpoint):
    """A payer whose PAS base is the recording endpoint, with a secret; a practice with a group NPI."""
    settings.PUBLIC_BASE_URL = "https://pa.example.org"
    settings.PAS_READ_TIMEOUT_SECONDS = 1
    payer, practice = pas_case.payer, pas_case.practice
    payer.fhir_base_url = f"{endpoint.url}/fhir"
    payer.save()
    PayerLink.objects.create(payer=payer, notify_secret=SECRET)
    practice.npi = "1234567893"
    practice.save()
    return payer, practice


def _created(subscription_id="sub-1", status="requested"):
    return (201, {"resourceType": "Subscription", "id": subscription_id, "status": status, "criteria": PAS_TOPIC})


def _ensure(payer, practice, **kwargs) -> PayerSubscription:
    return subscription_ensure(payer_id=payer.pk, practice_id=practice.pk, **kwargs)


def test_the_subscription_is_the_pas_topic_filtered_on_our_org_with_id_only_payload(configured, endpoint):
    payer, practice = configured
    endpoint.reply(_created())
    row = _ensure(payer, practice)
    (sent,) = endpoint.received
    assert sent["path"] == "/fhir/Subscription"
    assert sent["headers"]["Content-Type"] == "application/fhir+json"
    sub = json.loads(sent["body"])
    assert sub == subscription_resource(payer=payer, practice=practice, secret=SECRET)
    assert sub["resourceType"] == "Subscription" and sub["status"] == "requested"
    assert set(sub["meta"]["profile"]) == {PAS_SUBSCRIPTION_PROFILE, BACKPORT_SUBSCRIPTION}
    assert sub["criteria"] == PAS_TOPIC
    assert sub["_criteria"]["extension"] == [{"url": FILTER_CRITERIA, "valueString": "org-identifier=1234567893"}]
    channel = sub["channel"]
    assert channel["type"] == "rest-hook"
    assert channel["endpoint"] == f"https://pa.example.org/integrations/pas/notify/{payer.pk}/"
    assert channel["header"] == [f"Authorization: Bearer {SECRET}"]
    assert channel["payload"] == "application/fhir+json"
    assert channel["_payload"]["extension"] == [{"url": PAYLOAD_CONTENT, "valueCode": "id-only"}]
    # and what came back is kept
    assert (row.state, row.subscription_id, row.last_error) == (S.REQUESTED, "sub-1", "")
    assert row.org_identifier == "1234567893" and row.endpoint == channel["endpoint"] and row.attempts == 1


def test_a_practice_without_npi_filters_on_its_tax_id(configured, endpoint):
    payer, practice = configured
    practice.npi, practice.tax_id = "", "12-3456789"
    practice.save()
    endpoint.reply(_created(status="active"))
    assert _ensure(payer, practice).state == S.ACTIVE
    sent = endpoint.json_bodies()[0]
    assert sent["_criteria"]["extension"][0]["valueString"] == "org-identifier=12-3456789"


@pytest.mark.parametrize(
    "breaks,said",
    [
        ("secret", "has no notification secret"),
        ("public_url", "PUBLIC_BASE_URL is not set"),
        ("base_url", "has no PAS FHIR base URL"),
        ("org", "has no group NPI or tax id"),
    ],
)
def test_missing_configuration_is_recorded_and_nothing_is_called(configured, endpoint, settings, breaks, said):
    payer, practice = configured
    if breaks == "secret":
        PayerLink.objects.filter(payer=payer).update(notify_secret="")
    elif breaks == "public_url":
        settings.PUBLIC_BASE_URL = ""
    elif breaks == "base_url":
        payer.fhir_base_url = ""
        payer.save()
    else:
        practice.npi = practice.tax_id = ""
        practice.save()
    row = _ensure(payer, practice)
    assert row.state == S.NOT_CONFIGURED and said in row.last_error
    assert endpoint.received == []
    assert row.attempts == 0


@pytest.mark.parametrize(
    "reply,said",
    [
        (
            (
                500,
                {
                    "resourceType": "OperationOutcome",
                    "issue": [{"severity": "error", "code": "exception", "diagnostics": "database is down"}],
                },
            ),
            "payer answered HTTP 500: database is down",
        ),
        ((503, b"<html>busy</html>"), "payer answered HTTP 503"),
        ((201, b"<html>not json</html>"), "not JSON"),
        (
            (
                400,
                {
                    "resourceType": "OperationOutcome",
                    "issue": [{"severity": "error", "code": "invalid", "diagnostics": "unknown topic"}],
                },
            ),
            "refused the request (HTTP 400): unknown topic",
        ),
        (
            (
                200,
                {
                    "resourceType": "OperationOutcome",
                    "issue": [{"severity": "error", "code": "not-supported", "details": {"text": "no rest-hook"}}],
                },
            ),
            "answered with an OperationOutcome: no rest-hook",
        ),
        ((201, {"resourceType": "Bundle", "type": "collection"}), "'Bundle', not a Subscription"),
        ((201, {"resourceType": "Subscription", "status": "requested"}), "has no id"),
        (
            (201, {"resourceType": "Subscription", "id": "s", "status": "error", "error": "endpoint not allowed"}),
            "status 'error': endpoint not allowed",
        ),
        ((201, b"[1, 2]"), "JSON that is not a resource"),
        ((200, b"{}", 2.5), "did not answer in time"),
    ],
)
def test_payer_failures_leave_an_error_a_person_can_act_on(configured, endpoint, reply, said):
    payer, practice = configured
    endpoint.reply(reply)
    row = _ensure(payer, practice)
    assert row.state == S.ERROR
    assert said in row.last_error, row.last_error
    assert "re-create" in row.last_error or "Retried every hour" in row.last_error
    assert row.claimed_at is None and row.attempts == 1 and row.subscription_id == ""


def test_ensure_twice_posts_once(configured, endpoint):
    payer, practice = configured
    endpoint.reply(_created())
    first = _ensure(payer, practice)
    second = _ensure(payer, practice)
    assert first.pk == second.pk and second.state == S.REQUESTED
    assert len(endpoint.received) == 1
    assert PayerSubscription.objects.count() == 1


def test_an_error_is_tried_again_and_force_recreates_an_active_one(configured, endpoint):
    payer, practice = configured
    endpoint.reply((503, b""), _created("sub-2", "active"), _created("sub-3", "active"))
    assert _ensure(payer, practice).state == S.ERROR
    assert _ensure(payer, practice).subscription_id == "sub-2"
    assert _ensure(payer, practice).subscription_id == "sub-2"  # active: left alone
    assert _ensure(payer, practice, force=True).subscription_id == "sub-3"
    assert len(endpoint.received) == 3


def test_a_row_switched_off_or_claimed_by_another_worker_is_not_sent(configured, endpoint):
    payer, practice = configured
    row = PayerSubscription.objects.create(payer=payer, practice=practice, state=S.OFF)
    assert _ensure(payer, practice).state == S.OFF
    PayerSubscription.objects.filter(pk=row.pk).update(state=S.ERROR, claimed_at=timezone.now())
    assert _ensure(payer, practice).state == S.ERROR  # another worker is calling the payer
    assert endpoint.received == []
    # a claim older than the lease was abandoned by a dead worker: taken over
    PayerSubscription.objects.filter(pk=row.pk).update(claimed_at=timezone.now() - timedelta(minutes=10))
    endpoint.reply(_created())
    assert _ensure(payer, practice).state == S.REQUESTED
    assert len(endpoint.received) == 1


# --- triggers -------------------------------------------------------------------------------------


def _queued_tasks() -> list[tuple[str, tuple]]:
    return [(q.func(), tuple(q.task["args"])) for q in OrmQ.objects.all()]


@pytest.mark.django_db(transaction=True)
def test_a_pend_enqueues_the_subscription_after_commit_once(pas_case):
    pas_case.status = Status.SUBMITTED
    pas_case.save()
    pended = PayerDecision(status=DecisionStatus.PENDED, review_action_code="A4", info_requested=("a note",))
    decision_apply(case=pas_case, decision=pended, source="poll")
    pas_case.refresh_from_db()
    assert pas_case.status == Status.PENDED
    assert _queued_tasks() == [
        ("integrations.pas.tasks.ensure_subscription", (pas_case.payer_id, pas_case.practice_id))
    ]
    # Once the practice is subscribed, another pended case of the same payer enqueues nothing.
    OrmQ.objects.all().delete()
    PayerSubscription.objects.create(payer=pas_case.payer, practice=pas_case.practice, state=S.ACTIVE)
    other = f.CaseFactory(
        order=f.OrderFactory(practice=pas_case.practice), payer=pas_case.payer, channel="pas", status=Status.SUBMITTED
    )
    decision_apply(case=other, decision=pended, source="poll")
    assert _queued_tasks() == []


@pytest.mark.django_db(transaction=True)
def test_an_approval_enqueues_nothing(pas_case):
    pas_case.status = Status.SUBMITTED
    pas_case.save()
    decision_apply(case=pas_case, decision=PayerDecision(status=DecisionStatus.APPROVED), source="poll")
    assert _queued_tasks() == []


@pytest.mark.django_db(transaction=True)
def test_a_request_queued_at_the_payer_enqueues_the_subscription(sandboxed, pas_case, coordinator):
    sandboxed.decision_delay_seconds = 3600
    sandboxed.save()
    sub = submission_request(case=pas_case, actor=coordinator)
    OrmQ.objects.all().delete()  # the submit task
    submission_send(submission_id=sub.pk)
    pas_case.refresh_from_db()
    assert pas_case.status == Status.SUBMITTED
    assert _queued_tasks() == [
        ("integrations.pas.tasks.ensure_subscription", (pas_case.payer_id, pas_case.practice_id))
    ]


def test_the_hourly_schedule_retries_errors_and_covers_practices_with_awaiting_pas_cases(pas_case, practice):
    pas_case.status = Status.SUBMITTED
    pas_case.save()
    other_payer = f.PayerFactory(default_channel="pas")
    PayerSubscription.objects.create(payer=other_payer, practice=practice, state=S.ERROR)
    active_payer = f.PayerFactory(default_channel="pas")
    PayerSubscription.objects.create(payer=active_payer, practice=practice, state=S.ACTIVE)
    f.CaseFactory(order=f.OrderFactory(practice=practice), payer=active_payer, channel="pas", status=Status.PENDED)
    fax_payer = f.PayerFactory(default_channel="fax")
    f.CaseFactory(order=f.OrderFactory(practice=practice), payer=fax_payer, status=Status.SUBMITTED)
    expected = sorted([(pas_case.payer_id, practice.pk), (other_payer.pk, practice.pk)])
    assert subscriptions_to_ensure() == expected
    assert ensure_subscriptions() == 2
    assert sorted(args for _, args in _queued_tasks()) == expected


def test_the_schedules_exist(db):
    from django_q.models import Schedule

    assert Schedule.objects.get(name="pas.ensure_subscriptions").minutes == 60
    assert Schedule.objects.get(name="pas.sandbox_push").minutes == 1


def test_production_without_public_base_url_is_warned_about(settings):
    from integrations.pas.apps import public_base_url_check

    settings.PRODUCTION, settings.PUBLIC_BASE_URL = True, ""
    assert [w.id for w in public_base_url_check()] == ["pas.W001"]
    settings.PUBLIC_BASE_URL = "https://pa.example.org"
    assert public_base_url_check() == []
