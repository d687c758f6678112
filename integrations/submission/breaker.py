"""A circuit breaker per payer: after repeated transient failures, calls to that payer pause."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from integrations.base import IntegrationError, PayerResponseUnreadable
from integrations.submission.models import PayerLink

log = logging.getLogger(__name__)

BREAKER_THRESHOLD = 5  # consecutive transient failures that open a payer's breaker
BREAKER_COOLDOWN_CAP = timedelta(minutes=30)


def counts_against_breaker(exc: IntegrationError) -> bool:
    """A timeout or a 5xx says the payer is in trouble; a permanent refusal or an
    answer we could not read says nothing about whether it is up."""
    return not exc.permanent and not isinstance(exc, PayerResponseUnreadable)


def payer_link(payer) -> PayerLink:
    link, _ = PayerLink.objects.get_or_create(payer=payer)
    return link


def breaker_allows(link: PayerLink) -> bool:
    """Closed: yes. Open and cooling down: no. Cool-down over: one caller wins the half-open probe."""
    now = timezone.now()
    if link.breaker_state == PayerLink.Breaker.CLOSED:
        return True
    if link.breaker_state == PayerLink.Breaker.OPEN:
        if link.open_until and link.open_until > now:
            return False
        won = PayerLink.objects.filter(pk=link.pk, breaker_state=PayerLink.Breaker.OPEN).update(
            breaker_state=PayerLink.Breaker.HALF_OPEN
        )
        link.breaker_state = PayerLink.Breaker.HALF_OPEN
        return won == 1
    return False  # half-open: another worker's probe is in flight


def breaker_record_success(link: PayerLink) -> None:
    now = timezone.now()
    if link.breaker_state != PayerLink.Breaker.CLOSED or link.consecutive_failures:
        PayerLink.objects.filter(pk=link.pk).update(
            breaker_state=PayerLink.Breaker.CLOSED,
            consecutive_failures=0,
            times_opened=0,
            open_until=None,
            last_success_at=now,
        )
    elif link.last_success_at is None or now - link.last_success_at > timedelta(minutes=1):
        PayerLink.objects.filter(pk=link.pk).update(last_success_at=now)


def breaker_record_failure(link: PayerLink, error: str) -> None:
    """Count a transient failure; the threshold (or a failed probe) opens the breaker with a growing cool-down."""
    now = timezone.now()
    with transaction.atomic():
        locked = PayerLink.objects.select_for_update().get(pk=link.pk)
        locked.consecutive_failures += 1
        locked.last_error = error[:300]
        locked.last_failure_at = now
        if locked.breaker_state == PayerLink.Breaker.HALF_OPEN or (
            locked.breaker_state == PayerLink.Breaker.CLOSED and locked.consecutive_failures >= BREAKER_THRESHOLD
        ):
            cooldown = min(BREAKER_COOLDOWN_CAP, timedelta(minutes=1) * (2**locked.times_opened))
            locked.breaker_state = PayerLink.Breaker.OPEN
            locked.open_until = now + cooldown
            locked.times_opened += 1
            log.warning("payer %s circuit open for %s: %s", locked.payer_id, cooldown, error[:120])
        locked.save()
    link.refresh_from_db()
