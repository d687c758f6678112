"""Watching approvals until they are used: the authorization's end date.

PRODUCT.md step 7: after an approval the system "watches the expiry date".
An approval is unused while the service is not scheduled inside its period
(no scheduled date, or one after the end). For such a case:

- `EXPIRY_WARNING_DAYS` before the end (practice-local dates) a coordinator
  gets one task: schedule by then or ask the payer for an extension;
- the day after the end the case moves to `expired` (by the system, on the
  timeline) and a coordinator gets one task to request a new authorization.

A case whose service is scheduled inside the period is left alone: staff
close it when the service is done. Runs hourly (`cases.tasks.watch_authorizations`);
each task has a dedupe key per end date, so reruns and restarts add nothing,
and a payer's later extension (a new end date) is watched afresh.
"""

from __future__ import annotations

import logging
import zoneinfo
from datetime import date, datetime, time, timedelta

from django.db import transaction
from django.db.models import CharField, Exists, F, OuterRef, Q, Value
from django.db.models.functions import Cast, Concat
from django.utils import timezone

from cases.models import Practice, PriorAuthCase, Role, Status, Task
from cases.services import task_create
from cases.transitions import InvalidTransition, transition

log = logging.getLogger(__name__)

EXPIRY_WARNING_DAYS = 14
APPROVED = (Status.APPROVED, Status.PARTIALLY_APPROVED)


def _unused() -> Q:
    """The service is not scheduled inside the authorization's period."""
    return Q(order__scheduled_date__isnull=True) | Q(order__scheduled_date__gt=F("auth_effective_end"))


def _due(day: date, tz) -> datetime:
    return datetime.combine(day, time(17, 0), tzinfo=tz)


def authorizations_watch(*, practice: Practice, now: datetime | None = None) -> dict[str, int]:
    """Warn about approvals ending soon and expire those that ended unused. Returns the counts."""
    now = now or timezone.now()
    tz = zoneinfo.ZoneInfo(practice.time_zone)
    today = timezone.localtime(now, tz).date()
    approved = (
        PriorAuthCase.objects.filter(practice=practice, status__in=APPROVED, auth_effective_end__isnull=False)
        .filter(_unused())
        .select_related("payer", "order")
        .order_by("auth_effective_end", "pk")
    )
    counts = {"warned": 0, "expired": 0}

    # Cases already warned about this end date are not read again every hour.
    warned = Task.objects.filter(
        case=OuterRef("pk"),
        kind=Task.Kind.RENEW_AUTH,
        dedupe_key=Concat(Value("auth-ends-"), Cast(OuterRef("auth_effective_end"), CharField())),
    )
    ending_soon = approved.filter(
        auth_effective_end__gte=today, auth_effective_end__lte=today + timedelta(days=EXPIRY_WARNING_DAYS)
    ).exclude(Exists(warned))
    for case in ending_soon:
        end = case.auth_effective_end
        scheduled = case.order.scheduled_date
        when = f"scheduled {scheduled:%m/%d/%Y}, after it ends" if scheduled else "not scheduled yet"
        task = task_create(
            case=case,
            kind=Task.Kind.RENEW_AUTH,
            title=f"Authorization ends {end:%m/%d/%Y}: schedule the service by then or ask for an extension",
            detail=(
                f"The service is {when}. Schedule it inside the authorized period, or ask "
                f"{case.payer or 'the payer'} to extend authorization {case.authorization_number or ''}".rstrip()
                + "."
            ),
            assignee=case.assignee,
            role="" if case.assignee_id else Role.COORDINATOR,
            due_at=_due(end - timedelta(days=3) if end - timedelta(days=3) >= today else today, tz),
            dedupe_key=f"auth-ends-{end.isoformat()}",
        )
        counts["warned"] += task is not None

    for case_id in approved.filter(auth_effective_end__lt=today).values_list("pk", flat=True):
        counts["expired"] += _expire(case_id, today=today, tz=tz)
    if counts["warned"] or counts["expired"]:
        log.info("authorizations practice=%s warned=%s expired=%s", practice.pk, counts["warned"], counts["expired"])
    return counts


def _expire(case_id: int, *, today: date, tz) -> bool:
    """Expire one case if, under its row lock, it is still an unused approval that has ended."""
    with transaction.atomic():
        case = (
            PriorAuthCase.objects.select_for_update(of=("self",))
            .select_related("order", "payer")
            .filter(pk=case_id, status__in=APPROVED, auth_effective_end__lt=today)
            .filter(_unused())
            .first()
        )
        if case is None:
            return False  # closed, cancelled, rescheduled or extended since the read
        end = case.auth_effective_end
        try:
            transition(
                case,
                Status.EXPIRED,
                reason=f"Authorization ended {end:%m/%d/%Y} before the service was scheduled inside it",
                auth_effective_end=end.isoformat(),
            )
        except InvalidTransition:
            # An emergency order is never moved by the automation: a person decides.
            log.info("authorization ended, not expired by the system: case=%s", case_id)
        task_create(
            case=case,
            kind=Task.Kind.RENEW_AUTH,
            title=f"Authorization expired {end:%m/%d/%Y}: request a new one if the service is still needed",
            detail="Ask the ordering clinician whether the service is still needed; a new request starts from a "
            "new order.",
            assignee=case.assignee,
            role="" if case.assignee_id else Role.COORDINATOR,
            due_at=_due(today + timedelta(days=2), tz),
            dedupe_key=f"auth-expired-{end.isoformat()}",
        )
        return case.status == Status.EXPIRED
