"""The outbox mechanics every channel shares: claim a due row, count the attempt, back off, reclaim abandoned rows.

An outbox row is one outbound call written before it is made (`Submission`, `WriteBack`, `OutboundMessage`).
Each model declares its outbox once as an `Outbox` (which field holds its state, which states are due, sending,
retry and failed, and its `RetryPolicy`); the functions here do the rest. What a channel does around a claim
(ask the payer or Twilio what a lost attempt did, write the timeline, create a person's task) stays in its
package. The rows carry `attempts` and `next_attempt_at` (and `claimed_at` when they have a sending state)
under those names.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import models, transaction
from django.db.models import Q

RETRY = "retry"
FAILED = "failed"


@dataclass(frozen=True)
class RetryPolicy:
    """How often, and how far apart, a failed call is tried again.

    The wait after the n-th failed attempt is `base · 2^(n-1)`, at most `cap`. With `jitter`
    it is drawn uniformly below that ceiling ("full jitter", so rows that failed together do
    not come back together), never under `floor`.
    """

    max_attempts: int
    base: timedelta
    cap: timedelta
    jitter: bool = False
    floor: timedelta = timedelta(0)

    def ceiling(self, attempts: int) -> timedelta:
        # The exponent is bounded so a runaway count cannot overflow timedelta.
        return min(self.cap, self.base * 2 ** min(max(attempts - 1, 0), 30))

    def delay(self, attempts: int) -> timedelta:
        ceiling = self.ceiling(attempts)
        if self.jitter:
            ceiling = timedelta(seconds=random.uniform(0, ceiling.total_seconds()))
        return max(self.floor, ceiling)


@dataclass(frozen=True)
class Outbox:
    """One model's outbox: its state field and the states the shared mechanics move it between.

    `sending_state` None means the row has no "being sent" state: the claim is the row lock
    itself, held by the caller's transaction over the call (the write-back, whose call is a
    conditional create and so harmless to repeat).
    """

    model: type[models.Model]
    due_states: tuple[str, ...]
    retry_state: str
    failed_state: str
    policy: RetryPolicy
    sending_state: str | None = None
    state_field: str = "state"

    @property
    def fields(self) -> list[str]:
        """What `outbox_retry_or_fail` sets, for the caller's `save(update_fields=...)`."""
        return [self.state_field, "next_attempt_at"]

    def due(self, now: datetime) -> Q:
        when = Q(next_attempt_at__lte=now)
        if self.model._meta.get_field("next_attempt_at").null:
            when |= Q(next_attempt_at__isnull=True)
        return Q(**{f"{self.state_field}__in": self.due_states}) & when

    def abandoned(self, now: datetime, stale_after: timedelta) -> Q:
        """Rows a worker claimed and never finished (it died): claimed longer ago than `stale_after`.
        (The claim sets the sending state and `claimed_at` in one write, so a sending row has both.)"""
        return Q(**{self.state_field: self.sending_state, "claimed_at__lt": now - stale_after})


def outbox_claim(
    box: Outbox,
    pk: int,
    *,
    now: datetime,
    queryset: models.QuerySet | None = None,
    count_attempt: bool = True,
    reclaim_after: timedelta | None = None,
):
    """Claim row `pk` if it is due, so no other worker sends it; return it, or None.

    None means not due, finished, or held by another worker this moment (`skip_locked`: a
    worker never waits for another). The claim moves the row to the sending state with
    `claimed_at` = now and commits before the caller makes its call, so no lock is held over
    HTTP; inside the caller's transaction (an outbox without a sending state) the lock is
    the claim and lasts until that transaction ends. `queryset` narrows what is due (and may
    `select_related`); `count_attempt` False leaves counting to the caller. With
    `reclaim_after` a row abandoned in the sending state that long is claimed again, and
    `row.abandoned_claim_at` says when the lost attempt began (None on an ordinary claim),
    so the caller can ask the other side what it did.
    """
    if box.sending_state is None and not transaction.get_connection().in_atomic_block:
        raise RuntimeError(f"{box.model.__name__} has no sending state: claim it inside the sending transaction")
    rows = queryset if queryset is not None else box.model._default_manager.all()
    claimable = box.due(now)
    if reclaim_after is not None:
        claimable |= box.abandoned(now, reclaim_after)
    with transaction.atomic():
        row = rows.select_for_update(skip_locked=True, of=("self",)).filter(claimable, pk=pk).first()
        if row is None:
            return None
        abandoned = box.sending_state is not None and getattr(row, box.state_field) == box.sending_state
        row.abandoned_claim_at = row.claimed_at if abandoned else None
        fields = []
        if box.sending_state is not None:
            setattr(row, box.state_field, box.sending_state)
            row.claimed_at = now
            fields += [box.state_field, "claimed_at"]
        if count_attempt:
            row.attempts += 1
            fields.append("attempts")
        if fields:
            # auto_now fields (updated_at) are written only when named.
            fields += [f.name for f in box.model._meta.concrete_fields if getattr(f, "auto_now", False)]
            row.save(update_fields=fields)
    return row


def outbox_retry_or_fail(box: Outbox, row, *, permanent: bool, now: datetime) -> str:
    """After a failed attempt: RETRY (retry state, `next_attempt_at` set by the policy) while the
    failure is transient and attempts remain, else FAILED (failed state).

    Sets `box.fields` on `row` and does not save: the caller saves them with its error text
    and timeline entry, in one transaction.
    """
    if permanent or row.attempts >= box.policy.max_attempts:
        setattr(row, box.state_field, box.failed_state)
        return FAILED
    setattr(row, box.state_field, box.retry_state)
    row.next_attempt_at = now + box.policy.delay(row.attempts)
    return RETRY


def outbox_reclaim_abandoned(box: Outbox, *, stale_after: timedelta, now: datetime) -> int:
    """Put rows a dead worker left in the sending state back in the retry state, due now.

    For an outbox whose retry asks the other side first (the attempt count says it was tried);
    one that must know when the lost attempt began claims with `reclaim_after` instead.
    """
    return box.model._default_manager.filter(box.abandoned(now, stale_after)).update(
        **{box.state_field: box.retry_state, "next_attempt_at": now}
    )


def outbox_due_ids(
    box: Outbox,
    *,
    now: datetime,
    limit: int = 100,
    queryset: models.QuerySet | None = None,
    reclaim_after: timedelta | None = None,
) -> list[int]:
    """Ids of rows to send now, oldest first (with `reclaim_after`, abandoned ones too); the
    send claims each, so listing one twice, or one another worker took, is harmless."""
    rows = queryset if queryset is not None else box.model._default_manager.all()
    claimable = box.due(now)
    if reclaim_after is not None:
        claimable |= box.abandoned(now, reclaim_after)
    return list(rows.filter(claimable).order_by("pk").values_list("pk", flat=True)[:limit])
