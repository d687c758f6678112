"""A circuit breaker per payer: after repeated transient failures, calls to that payer pause.

It has a clock. Open: no calls until `open_until`. Then one caller wins the half-open probe and
`probe_started_at` records when; every outcome of that probe moves the breaker (success: closed;
any failure, a permanent refusal or an unreadable answer included: open with the next, longer
cool-down), and a probe that reports nothing within `HALF_OPEN_LIMIT` (its worker died, or the
call hangs past every timeout) counts as failed: open again. So a payer is never half-open for
ever, and its cases are left alone while a probe is in flight (`paused_payers`).
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from integrations.base import IntegrationError, PayerResponseUnreadable
from integrations.submission.models import PayerLink

log = logging.getLogger(__name__)

BREAKER_THRESHOLD = 5  # consecutive transient failures that open a payer's breaker
BREAKER_COOLDOWN_CAP = timedelta(minutes=30)
# A probe is a single payer call: 5 s connect + 30 s read (settings.PAS_*_TIMEOUT_SECONDS) inside a
# task with a 120 s timeout. No outcome after this long means its worker is gone.
HALF_OPEN_LIMIT = timedelta(seconds=settings.BREAKER_HALF_OPEN_LIMIT_SECONDS)  # 3 min


def counts_against_breaker(exc: IntegrationError) -> bool:
    """A timeout or a 5xx says the payer is in trouble; a permanent refusal or an
    answer we could not read says nothing about whether it is up (unless it answers a probe)."""
    return not exc.permanent and not isinstance(exc, PayerResponseUnreadable)


def payer_link(payer) -> PayerLink:
    link, _ = PayerLink.objects.get_or_create(payer=payer)
    return link


def _cooldown(times_opened: int) -> timedelta:
    return min(BREAKER_COOLDOWN_CAP, timedelta(seconds=settings.BREAKER_COOLDOWN_BASE_SECONDS) * (2**times_opened))


def paused_payers(now):
    """Payers not to be called now: cooling down, or with a probe in flight (its limit not yet passed).
    A queryset of payer ids, for the poll claim to leave their cases alone."""
    return PayerLink.objects.filter(
        Q(breaker_state=PayerLink.Breaker.OPEN, open_until__gt=now)
        | Q(breaker_state=PayerLink.Breaker.HALF_OPEN, probe_started_at__gt=now - HALF_OPEN_LIMIT)
    ).values("payer_id")


def breaker_allows(link: PayerLink) -> bool:
    """Closed: yes. Open and cooling down: no. Cool-down over: one caller wins the half-open probe
    (a conditional update, so two workers never both probe). A probe past its limit reopens it."""
    now = timezone.now()
    if link.breaker_state == PayerLink.Breaker.CLOSED:
        return True
    if link.breaker_state == PayerLink.Breaker.HALF_OPEN:
        if link.probe_started_at is not None and link.probe_started_at > now - HALF_OPEN_LIMIT:
            return False  # another worker's probe is in flight
        _probe_lost(link, now)
        link.refresh_from_db()
        return False
    if link.open_until and link.open_until > now:
        return False
    won = PayerLink.objects.filter(pk=link.pk, breaker_state=PayerLink.Breaker.OPEN, open_until=link.open_until).update(
        breaker_state=PayerLink.Breaker.HALF_OPEN, probe_started_at=now
    )
    link.breaker_state = PayerLink.Breaker.HALF_OPEN
    link.probe_started_at = now
    return won == 1


def breaker_next_try(link: PayerLink):
    """When a call refused by the breaker is worth trying again: the end of the cool-down, or of the probe's limit."""
    now = timezone.now()
    if link.breaker_state == PayerLink.Breaker.HALF_OPEN and link.probe_started_at:
        return max(now, link.probe_started_at + HALF_OPEN_LIMIT)
    return max(now, link.open_until or now)


def _probe_lost(link: PayerLink, now) -> None:
    # Only the probe that is still the one on record is reopened (conditional on probe_started_at).
    with transaction.atomic():
        locked = PayerLink.objects.select_for_update().get(pk=link.pk)
        if locked.breaker_state != PayerLink.Breaker.HALF_OPEN or locked.probe_started_at != link.probe_started_at:
            return
        _open(locked, now, "no answer to the probe within its time limit")
        locked.save()


def _open(locked: PayerLink, now, error: str) -> None:
    cooldown = _cooldown(locked.times_opened)
    locked.breaker_state = PayerLink.Breaker.OPEN
    locked.open_until = now + cooldown
    locked.probe_started_at = None
    locked.times_opened += 1
    log.warning("payer %s circuit open for %s: %s", locked.payer_id, cooldown, error[:120])


def breaker_record_success(link: PayerLink) -> None:
    now = timezone.now()
    if link.breaker_state != PayerLink.Breaker.CLOSED or link.consecutive_failures:
        PayerLink.objects.filter(pk=link.pk).update(
            breaker_state=PayerLink.Breaker.CLOSED,
            consecutive_failures=0,
            times_opened=0,
            open_until=None,
            probe_started_at=None,
            last_success_at=now,
        )
        link.breaker_state = PayerLink.Breaker.CLOSED
    elif link.last_success_at is None or now - link.last_success_at > timedelta(minutes=1):
        PayerLink.objects.filter(pk=link.pk).update(last_success_at=now)


def breaker_record_failure(link: PayerLink, error: str, *, counts: bool = True) -> None:
    """Record a failed call. A transient one (`counts`) is counted and the threshold opens the
    breaker with a growing cool-down; any failure of a half-open probe opens it again, since the
    probe's outcome must move the breaker whatever it is."""
    now = timezone.now()
    with transaction.atomic():
        locked = PayerLink.objects.select_for_update().get(pk=link.pk)
        if not counts and locked.breaker_state != PayerLink.Breaker.HALF_OPEN:
            return
        if counts:
            locked.consecutive_failures += 1
        locked.last_error = error[:300]
        locked.last_failure_at = now
        if locked.breaker_state == PayerLink.Breaker.HALF_OPEN or (
            locked.breaker_state == PayerLink.Breaker.CLOSED and locked.consecutive_failures >= BREAKER_THRESHOLD
        ):
            _open(locked, now, error)
        locked.save()
    link.refresh_from_db()


def breaker_record_error(link: PayerLink, exc: IntegrationError) -> None:
    """A call to the payer raised `exc`: counted if it says the payer is in trouble; a probe's failure always is."""
    breaker_record_failure(link, str(exc), counts=counts_against_breaker(exc))
