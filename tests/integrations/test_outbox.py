"""The shared outbox mechanics (integrations/outbox.py): claim under two real connections, attempts,
each outbox's retry policy, giving up, and taking back rows a dead worker abandoned."""

import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection, transaction

from integrations.ehr_fhir.models import WriteBack
from integrations.ehr_fhir.writeback import WRITE_BACKS
from integrations.outbox import (
    FAILED,
    RETRY,
    outbox_claim,
    outbox_due_ids,
    outbox_reclaim_abandoned,
    outbox_retry_or_fail,
)
from integrations.sms_twilio.services import TEXTS
from integrations.submission import cadence
from integrations.submission.models import Submission
from integrations.submission.services import SUBMISSIONS

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
S = Submission.State


def _rows(case, n, **fields):
    first = Submission.objects.count()
    return [
        Submission.objects.create(
            case=case, channel="pas", idempotency_key=f"outbox-test-{first + i}", next_attempt_at=NOW, **fields
        )
        for i in range(n)
    ]


@pytest.mark.django_db(transaction=True)
def test_two_workers_claim_disjoint_rows(postgres_only, case):
    # given 40 due rows and two workers, each with its own connection, starting together
    ids = [row.pk for row in _rows(case, 40)]
    barrier = threading.Barrier(2)
    results = {}

    def worker(name, order):
        try:
            barrier.wait()
            results[name] = [pk for pk in order if outbox_claim(SUBMISSIONS, pk, now=NOW) is not None]
        finally:
            connection.close()  # each thread has its own connection

    # when one walks the rows forwards and the other backwards
    threads = [
        threading.Thread(target=worker, args=("a", ids)),
        threading.Thread(target=worker, args=("b", ids[::-1])),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    # then every row was claimed exactly once, and both did some of the work
    claimed = results["a"] + results["b"]
    assert sorted(claimed) == sorted(ids)
    assert results["a"] and results["b"]
    assert Submission.objects.filter(state=S.SENDING, attempts=1, claimed_at=NOW).count() == 40


@pytest.mark.django_db(transaction=True)
def test_a_row_locked_by_another_worker_is_skipped_not_waited_for(postgres_only, case):
    # given a row another connection holds locked
    (row,) = _rows(case, 1)
    locked, release, outcome = threading.Event(), threading.Event(), {}

    def holder():
        try:
            with transaction.atomic():
                Submission.objects.select_for_update().get(pk=row.pk)
                locked.set()
                release.wait(timeout=30)
        finally:
            connection.close()

    thread = threading.Thread(target=holder)
    thread.start()
    assert locked.wait(timeout=30)
    # when this worker tries to claim it
    try:
        outcome["while_locked"] = outbox_claim(SUBMISSIONS, row.pk, now=NOW)
    finally:
        release.set()
        thread.join(timeout=30)
    # then it gets nothing at once; once the lock is gone the row is claimable
    assert outcome["while_locked"] is None
    assert outbox_claim(SUBMISSIONS, row.pk, now=NOW).pk == row.pk


def test_claim_counts_attempts_and_a_retry_waits_for_its_time(postgres_only, case):
    # given a due row
    (row,) = _rows(case, 1)
    # when it is claimed
    claimed = outbox_claim(SUBMISSIONS, row.pk, now=NOW)
    # then it is sending, claimed now, attempt 1 (a fresh claim, nothing abandoned); a second claim gets nothing
    assert claimed.abandoned_claim_at is None
    claimed.refresh_from_db()
    assert (claimed.state, claimed.claimed_at, claimed.attempts) == (S.SENDING, NOW, 1)
    assert outbox_claim(SUBMISSIONS, row.pk, now=NOW) is None
    # when the attempt fails transiently
    assert outbox_retry_or_fail(SUBMISSIONS, claimed, permanent=False, now=NOW) == RETRY
    claimed.save(update_fields=SUBMISSIONS.fields)
    claimed.refresh_from_db()
    # then it waits in the retry state until next_attempt_at, and the next claim is attempt 2
    assert claimed.state == S.RETRY and claimed.next_attempt_at > NOW
    assert outbox_claim(SUBMISSIONS, row.pk, now=claimed.next_attempt_at - timedelta(seconds=1)) is None
    assert outbox_due_ids(SUBMISSIONS, now=claimed.next_attempt_at - timedelta(seconds=1)) == []
    assert outbox_due_ids(SUBMISSIONS, now=claimed.next_attempt_at) == [row.pk]
    again = outbox_claim(SUBMISSIONS, row.pk, now=claimed.next_attempt_at)
    assert again.attempts == 2


def test_claim_can_leave_counting_to_the_caller(postgres_only, case):
    (row,) = _rows(case, 1)
    claimed = outbox_claim(SUBMISSIONS, row.pk, now=NOW, count_attempt=False)
    claimed.refresh_from_db()
    assert (claimed.state, claimed.attempts) == (S.SENDING, 0)


@pytest.mark.django_db(transaction=True)
def test_an_outbox_without_a_sending_state_claims_only_inside_a_transaction(postgres_only, case):
    # given a write-back row (its claim is the row lock, held over the call)
    wb = WriteBack.objects.create(
        case=case, decision="approved", identifier_value="pa-x", idempotency_key="x", next_attempt_at=NOW
    )
    # when claimed outside the sending transaction, it refuses (the lock would end at once)
    with pytest.raises(RuntimeError, match="inside the sending transaction"):
        outbox_claim(WRITE_BACKS, wb.pk, now=NOW + timedelta(seconds=1))
    # and inside one it counts the attempt and leaves the state alone
    with transaction.atomic():
        claimed = outbox_claim(WRITE_BACKS, wb.pk, now=NOW + timedelta(seconds=1))
    claimed.refresh_from_db()
    assert (claimed.state, claimed.attempts) == (WriteBack.State.PENDING, 1)


@pytest.mark.parametrize(
    ("box", "expected_minutes"),
    [
        (WRITE_BACKS, [1, 2, 4, 8, 16, 32, 64, 128, 256, 360, 360]),
        (TEXTS, [1, 2, 4, 8, 16, 32, 60, 60]),
    ],
    ids=["write_backs", "texts"],
)
def test_fixed_backoff_doubles_up_to_its_cap(box, expected_minutes):
    delays = [box.policy.delay(attempts) for attempts in range(1, len(expected_minutes) + 1)]
    assert delays == [timedelta(minutes=m) for m in expected_minutes]


def test_submission_backoff_is_full_jitter_below_the_growing_ceiling():
    # The same bounds as cadence.full_jitter(attempts): 2, 4, 8 … min up to 2 h, never under 10 s.
    policy = SUBMISSIONS.policy
    for attempts in range(1, 10):
        ceiling = min(cadence.BACKOFF_CAP, cadence.BACKOFF_BASE * 2**attempts)
        assert policy.ceiling(attempts) == ceiling
        for _ in range(50):
            assert timedelta(seconds=10) <= policy.delay(attempts) <= ceiling
    assert len({policy.delay(6) for _ in range(20)}) > 10  # jittered, not a fixed step
    assert policy.delay(10_000) <= cadence.BACKOFF_CAP  # no overflow on a runaway count


@pytest.mark.parametrize("box", [SUBMISSIONS, WRITE_BACKS, TEXTS], ids=["submissions", "write_backs", "texts"])
def test_transient_failures_give_up_after_max_attempts(box):
    row = box.model(attempts=box.policy.max_attempts - 1)
    assert outbox_retry_or_fail(box, row, permanent=False, now=NOW) == RETRY
    assert getattr(row, box.state_field) == box.retry_state and row.next_attempt_at > NOW
    row.attempts = box.policy.max_attempts
    assert outbox_retry_or_fail(box, row, permanent=False, now=NOW) == FAILED
    assert getattr(row, box.state_field) == box.failed_state


@pytest.mark.parametrize("box", [SUBMISSIONS, WRITE_BACKS, TEXTS], ids=["submissions", "write_backs", "texts"])
def test_permanent_failure_fails_at_once(box):
    row = box.model(attempts=1, next_attempt_at=NOW)
    assert outbox_retry_or_fail(box, row, permanent=True, now=NOW) == FAILED
    assert getattr(row, box.state_field) == box.failed_state and row.next_attempt_at == NOW


def test_abandoned_rows_are_reclaimed_only_after_stale_after(postgres_only, case):
    # given a row a worker claimed and then died with
    (row,) = _rows(case, 1)
    outbox_claim(SUBMISSIONS, row.pk, now=NOW)
    stale_after = timedelta(minutes=5)
    # when the sweep runs before the claim is stale, it leaves it alone
    assert outbox_reclaim_abandoned(SUBMISSIONS, stale_after=stale_after, now=NOW + stale_after) == 0
    row.refresh_from_db()
    assert row.state == S.SENDING
    # and once it is stale, it goes back to retry, due now
    later = NOW + stale_after + timedelta(seconds=1)
    assert outbox_reclaim_abandoned(SUBMISSIONS, stale_after=stale_after, now=later) == 1
    row.refresh_from_db()
    assert (row.state, row.next_attempt_at, row.attempts) == (S.RETRY, later, 1)
    assert outbox_due_ids(SUBMISSIONS, now=later) == [row.pk]


def test_claim_takes_over_an_abandoned_claim_only_after_reclaim_after(postgres_only, case):
    # given a row claimed at NOW by a worker that died
    (row,) = _rows(case, 1)
    outbox_claim(SUBMISSIONS, row.pk, now=NOW)
    grace = timedelta(minutes=2)
    # when another worker tries within the grace period it gets nothing, and the row is not listed
    assert outbox_claim(SUBMISSIONS, row.pk, now=NOW + grace, reclaim_after=grace) is None
    assert outbox_due_ids(SUBMISSIONS, now=NOW + grace, reclaim_after=grace) == []
    # and after it, the row is listed and claimed again, saying when the lost attempt began
    later = NOW + grace + timedelta(seconds=1)
    assert outbox_due_ids(SUBMISSIONS, now=later, reclaim_after=grace) == [row.pk]
    again = outbox_claim(SUBMISSIONS, row.pk, now=later, reclaim_after=grace)
    assert again.abandoned_claim_at == NOW
    again.refresh_from_db()
    assert (again.state, again.claimed_at, again.attempts) == (S.SENDING, later, 2)


def test_finished_rows_are_never_claimed(postgres_only, case):
    rows = _rows(case, 3)
    Submission.objects.filter(pk=rows[0].pk).update(state=S.ACCEPTED)
    Submission.objects.filter(pk=rows[1].pk).update(state=S.FAILED)
    Submission.objects.filter(pk=rows[2].pk).update(state=S.WITH_STAFF)
    for row in rows:
        assert outbox_claim(SUBMISSIONS, row.pk, now=NOW + timedelta(days=1), reclaim_after=timedelta(0)) is None
    assert outbox_due_ids(SUBMISSIONS, now=NOW + timedelta(days=1), reclaim_after=timedelta(0)) == []
