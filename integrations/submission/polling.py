"""Checking on requests the payer has, on each payer's cadence, for every channel.

An automated channel asks the payer; a channel worked by hand gives a person a
follow-up task ("no answer recorded: check with the payer"). Either way the
case is claimed off the poll index under `skip_locked`, so no case is checked
twice at once, and its next check is set from the answer.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from cases.decisions import decision_apply
from cases.models import CaseEvent, PriorAuthCase
from cases.services import case_event_add
from cases.transitions import AWAITING_PAYER
from integrations.base import DecisionStatus, IntegrationError
from integrations.registry import channel_name_for, get_channel
from integrations.submission.breaker import (
    breaker_allows,
    breaker_next_try,
    breaker_record_error,
    breaker_record_success,
    paused_payers,
    payer_link,
)
from integrations.submission.cadence import full_jitter, poll_next_at
from integrations.submission.models import CaseTracking
from integrations.submission.services import last_accepted

# A claimed case is not claimed again for this long; the poll task sets the real next time.
POLL_LEASE = timedelta(seconds=settings.POLL_LEASE_SECONDS)  # 10 min


def poll_claim_due(*, now=None, limit: int = 500) -> list[int]:
    """Claim up to `limit` due cases and push their next check out by a lease.

    `skip_locked`: two schedulers running at once take disjoint rows, so no
    case is checked twice. Cases of a payer whose breaker is open are left
    alone, and so are those of a payer whose probe is in flight. The query
    walks the partial index on next_poll_at (only cases still awaiting a
    payer have one), so closed cases cost nothing.
    """
    now = now or timezone.now()
    # Cooling down, or a probe in flight: their cases wait here rather than being claimed and paused.
    paused = paused_payers(now)
    with transaction.atomic():
        ids = list(
            PriorAuthCase.objects.due_for_poll(now)
            .exclude(payer_id__in=paused)
            .order_by("next_poll_at")
            .select_for_update(skip_locked=True, of=("self",))
            .values_list("pk", flat=True)[:limit]
        )
        if ids:
            PriorAuthCase.objects.filter(pk__in=ids).update(next_poll_at=now + POLL_LEASE)
    return ids


def case_poll(*, case_id: int) -> str:
    """Check on one case through its channel and apply the answer. Returns what happened (for logs/bench)."""
    case = PriorAuthCase.objects.select_related("payer", "practice", "patient", "order", "order__coverage").get(
        pk=case_id
    )
    if case.status not in AWAITING_PAYER:
        return "not awaiting"
    now = timezone.now()
    # The newest request the payer acknowledged through the case's channel: after an update, the update.
    submission = last_accepted(case)
    try:
        channel = get_channel(channel_name_for(case))
    except IntegrationError:
        channel = None
    if channel is None or not channel.can_poll:
        # Nothing to ask: the stall and deadline escalations still watch the case.
        PriorAuthCase.objects.filter(pk=case.pk).update(next_poll_at=None)
        return "not polled"
    link = payer_link(case.payer) if channel.automated else None
    if link is not None and not breaker_allows(link):
        # Back when the cool-down or the probe's time limit ends, not at the next minute's claim.
        _set_next_poll(case, breaker_next_try(link) + full_jitter(0))
        return "paused"
    key = submission.idempotency_key if submission else f"case-{case.pk}"
    try:
        decision = channel.check_status(case, submission_key=key)
    except IntegrationError as exc:
        if link is not None:
            breaker_record_error(link, exc)
        _poll_failed(case, exc)
        return "error"
    if link is not None:
        breaker_record_success(link)
    if decision is None:
        _poll_failed(case, IntegrationError("the payer does not know this request"))
        return "unknown"
    if decision.status == DecisionStatus.STILL_PENDING:
        # The common answer: no lock needed, nothing to apply; just the next check.
        now = timezone.now()
        _set_next_poll(case, poll_next_at(case=case, now=now, link=link, automated=channel.automated))
        if not CaseTracking.objects.filter(case=case).update(last_polled_at=now, poll_failures=0, last_error=""):
            CaseTracking.objects.get_or_create(case=case, defaults={"last_polled_at": now})
        return "no change"
    # The key travels with the answer: if another request became the newest while we asked, it is not applied.
    event = decision_apply(case=case, decision=decision, source="poll", asked_key=key)
    return decision.status if event is not None else "no change"


def _set_next_poll(case: PriorAuthCase, when) -> None:
    # Only while still awaiting: a decision applied meanwhile cleared next_poll_at for good.
    PriorAuthCase.objects.filter(pk=case.pk, status__in=AWAITING_PAYER).update(next_poll_at=when)


def _poll_failed(case: PriorAuthCase, exc: Exception) -> None:
    now = timezone.now()
    tracking, _ = CaseTracking.objects.get_or_create(case=case)
    tracking.poll_failures = F("poll_failures") + 1
    tracking.last_error = str(exc)[:300]
    tracking.last_polled_at = now
    tracking.save(update_fields=["poll_failures", "last_error", "last_polled_at"])
    tracking.refresh_from_db(fields=["poll_failures"])
    _set_next_poll(case, now + full_jitter(tracking.poll_failures))
    # The timeline gets the first failure of a run and every fifth, not every retry.
    if tracking.poll_failures == 1 or tracking.poll_failures % 5 == 0:
        case_event_add(
            case=case,
            kind=CaseEvent.Kind.PAYER,
            message=f"Status check failed ({tracking.poll_failures}×): {exc}"[:300],
        )
