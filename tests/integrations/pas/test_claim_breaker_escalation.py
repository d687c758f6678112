"""The poll claim under two real connections, backoff, the circuit breaker, stall and deadline escalation."""

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from cases.models import CaseEvent, Role, Status, Task
from integrations.base import ChannelBase, IntegrationError
from integrations.submission import cadence
from integrations.submission.breaker import (
    BREAKER_THRESHOLD,
    breaker_allows,
    breaker_record_failure,
    breaker_record_success,
    payer_link,
)
from integrations.submission.cadence import full_jitter
from integrations.submission.escalation import escalate_deadlines, escalate_stalls
from integrations.submission.models import CaseTracking, PayerLink
from integrations.submission.polling import case_poll, poll_claim_due
from tests import factories as f


def _due_cases(practice, provider, payer, n, **extra):
    now = timezone.now()
    cases = []
    for _ in range(n):
        order = f.OrderFactory(practice=practice, ordering_provider=provider)
        cases.append(
            f.CaseFactory(
                order=order, payer=payer, status=Status.SUBMITTED, next_poll_at=now - timedelta(minutes=1), **extra
            )
        )
    return cases


@pytest.mark.django_db(transaction=True)
def test_two_workers_never_claim_the_same_case(postgres_only, practice, owner_provider, pas_payer):
    cases = _due_cases(practice, owner_provider, pas_payer, 60)
    # Closed cases never enter the claim.
    f.CaseFactory(order=f.OrderFactory(practice=practice, ordering_provider=owner_provider), status=Status.CLOSED)
    barrier = threading.Barrier(2)
    results = {}

    def worker(name):
        try:
            barrier.wait()
            got = []
            for _ in range(6):
                got += poll_claim_due(limit=7)
            results[name] = got
        finally:
            connection.close()  # each thread has its own connection

    threads = [threading.Thread(target=worker, args=(n,)) for n in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    claimed = results["a"] + results["b"]
    assert len(claimed) == len(set(claimed)) == len(cases)  # all claimed, none twice
    assert results["a"] and results["b"]  # both really worked


def test_claim_leaves_payers_with_an_open_breaker_alone(postgres_only, practice, owner_provider, pas_payer):
    _due_cases(practice, owner_provider, pas_payer, 2)
    other = f.PayerFactory(name="Other PAS", default_channel="pas")
    mine = _due_cases(practice, owner_provider, other, 1)
    PayerLink.objects.create(
        payer=pas_payer, breaker_state=PayerLink.Breaker.OPEN, open_until=timezone.now() + timedelta(minutes=5)
    )
    assert poll_claim_due() == [mine[0].pk]


def test_full_jitter_stays_within_the_growing_ceiling():
    for failures in range(8):
        ceiling = min(cadence.BACKOFF_CAP, cadence.BACKOFF_BASE * 2**failures)
        for _ in range(50):
            delay = full_jitter(failures)
            assert timedelta(seconds=10) <= delay <= max(ceiling, timedelta(seconds=10))
    assert len({full_jitter(6) for _ in range(20)}) > 10  # jittered, not a fixed step


def test_breaker_opens_after_threshold_then_one_probe(pas_payer):
    link = payer_link(pas_payer)
    for _ in range(BREAKER_THRESHOLD - 1):
        breaker_record_failure(link, "503")
    assert link.breaker_state == PayerLink.Breaker.CLOSED
    breaker_record_failure(link, "503")
    assert link.breaker_state == PayerLink.Breaker.OPEN and not breaker_allows(link)
    PayerLink.objects.filter(pk=link.pk).update(open_until=timezone.now() - timedelta(seconds=1))
    first, second = PayerLink.objects.get(pk=link.pk), PayerLink.objects.get(pk=link.pk)
    assert breaker_allows(first) is True  # the probe
    assert breaker_allows(second) is False  # everyone else waits for it
    breaker_record_failure(first, "503 again")  # failed probe: open again, longer
    first.refresh_from_db()
    assert first.breaker_state == PayerLink.Breaker.OPEN
    assert first.open_until - first.last_failure_at == timedelta(minutes=2)
    breaker_record_success(first)
    first.refresh_from_db()
    assert first.breaker_state == PayerLink.Breaker.CLOSED and first.consecutive_failures == 0


def test_failed_polls_back_off_and_trip_the_breaker(practice, owner_provider, pas_payer, monkeypatch):
    cases = _due_cases(practice, owner_provider, pas_payer, BREAKER_THRESHOLD + 1)

    class Down(ChannelBase):
        def check_status(self, case, *, submission_key):
            raise IntegrationError("$inquire: payer answered HTTP 503")

    monkeypatch.setattr("integrations.submission.polling.get_channel", lambda name: Down())
    for case in cases[:BREAKER_THRESHOLD]:
        assert case_poll(case_id=case.pk) == "error"
        case.refresh_from_db()
        assert case.next_poll_at > timezone.now() and case.status == Status.SUBMITTED
        assert CaseTracking.objects.get(case=case).poll_failures == 1
    assert case_poll(case_id=cases[-1].pk) == "paused"  # the breaker is open: no call made
    link = PayerLink.objects.get(payer=pas_payer)
    assert link.breaker_state == PayerLink.Breaker.OPEN


def test_breaker_is_shown_on_the_case_page(client, coordinator, pas_case):
    PayerLink.objects.create(
        payer=pas_case.payer,
        breaker_state=PayerLink.Breaker.OPEN,
        open_until=timezone.now() + timedelta(minutes=5),
        consecutive_failures=5,
        last_error="$inquire: payer answered HTTP 503",
    )
    client.force_login(coordinator)
    body = client.get(f"/cases/{pas_case.pk}/").content.decode()
    assert "API is down: calls paused" in body
    # the last error in staff words (issue 16): not the HTTP status line
    assert "The payer&#x27;s system was not available" in body
    assert "HTTP 503" not in body


def test_stall_escalates_once_per_stall(practice, owner_provider, pas_payer):
    now = timezone.now()
    (case,) = _due_cases(practice, owner_provider, pas_payer, 1)
    case.status_changed_at = now - timedelta(hours=pas_payer.stall_threshold_hours + 1)
    case.save()
    assert escalate_stalls(now=now) == 1
    assert escalate_stalls(now=now + timedelta(hours=1)) == 0  # the same stall
    task = Task.objects.get(case=case, kind=Task.Kind.ESCALATION)
    assert task.role == Role.MANAGER
    # The case moves (pended), then stalls again: a new escalation.
    case.status = Status.PENDED
    case.status_changed_at = now - timedelta(hours=pas_payer.stall_threshold_hours + 5)
    case.save()
    assert escalate_stalls(now=now) == 1
    assert case.events.filter(kind=CaseEvent.Kind.ESCALATION).count() == 2


def test_recent_movement_is_not_a_stall(practice, owner_provider, pas_payer):
    (case,) = _due_cases(practice, owner_provider, pas_payer, 1)
    case.status_changed_at = timezone.now() - timedelta(hours=1)
    case.save()
    assert escalate_stalls() == 0


def test_deadline_near_and_passed_each_once(practice, owner_provider, pas_payer):
    now = timezone.now()
    (case,) = _due_cases(practice, owner_provider, pas_payer, 1)
    case.decision_due_at = now + timedelta(hours=5)
    case.save()
    assert escalate_deadlines(now=now) == 1
    assert escalate_deadlines(now=now + timedelta(minutes=30)) == 0
    assert escalate_deadlines(now=now + timedelta(hours=6)) == 1  # now passed
    titles = list(Task.objects.filter(case=case).values_list("title", flat=True))
    assert any("near" in t for t in titles) and any("passed" in t for t in titles)


@pytest.mark.django_db(transaction=True)
def test_same_decision_from_two_workers_at_once_applies_once(postgres_only, practice, owner_provider, pas_payer):
    from cases.decisions import decision_apply
    from integrations.pas.parse import parse_claim_response
    from tests.integrations.pas.conftest import PAS2_DIR, load

    (case,) = _due_cases(practice, owner_provider, pas_payer, 1)
    decision = parse_claim_response(load(PAS2_DIR / "pas2-approved.json"))
    barrier = threading.Barrier(2)
    applied = []

    def worker():
        try:
            barrier.wait()
            applied.append(decision_apply(case=type(case).objects.get(pk=case.pk), decision=decision, source="poll"))
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sum(1 for event in applied if event is not None) == 1
    assert case.events.filter(kind=CaseEvent.Kind.STATUS, to_status=Status.APPROVED).count() == 1
    assert Task.objects.filter(case=case, kind=Task.Kind.RESCHEDULE).count() == 1
