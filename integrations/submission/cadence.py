"""When to try again: backoff for failed calls, and the next status check of a case awaiting its payer."""

from __future__ import annotations

import random
from datetime import timedelta

from integrations.submission.models import PayerLink

BACKOFF_BASE = timedelta(minutes=1)
BACKOFF_CAP = timedelta(hours=2)


def full_jitter(failures: int) -> timedelta:
    """'Full jitter' backoff: uniform over [0, min(cap, base · 2^failures)], at least 10 s."""
    ceiling = min(BACKOFF_CAP, BACKOFF_BASE * (2 ** min(failures, 20)))
    return max(timedelta(seconds=10), timedelta(seconds=random.uniform(0, ceiling.total_seconds())))


def poll_next_at(*, case, now, link: PayerLink | None = None, automated: bool | None = None):
    """The next status check of `case`, on its payer's cadence.

    Automated channels ask the payer every `poll_interval_hours` (or the
    payer link's override), sooner as the decision deadline nears. A channel
    worked by hand "checks" by giving a person a follow-up task, every
    `follow_up_hours`: a deadline near is the managers' escalation, not more
    tasks for the coordinator.
    """
    if automated is None:
        from integrations.registry import channel_name_for, get_channel

        automated = get_channel(channel_name_for(case)).automated
    if not automated:
        return now + timedelta(hours=case.payer.follow_up_hours)
    if link is None:
        link = PayerLink.objects.filter(payer_id=case.payer_id).first()
    if link is not None and link.poll_minutes:
        interval = timedelta(minutes=link.poll_minutes)
    else:
        interval = timedelta(hours=case.payer.poll_interval_hours)
    if case.decision_due_at is not None:
        remaining = case.decision_due_at - now
        # A quarter of the time left, at least every 15 min; hourly once overdue.
        near = max(remaining / 4, timedelta(minutes=15)) if remaining > timedelta(0) else timedelta(hours=1)
        interval = min(interval, near)
    return now + interval
