"""The manager's dashboard: practice metrics as aggregate queries.

Every figure is computed by the database (COUNT / percentile_cont with
filters), never by looping over cases in Python, so it stays fast at
100 000 cases (see docs/performance.md). Definitions, per period
[start of `date_from`, end of `date_to`] in the practice's time zone:

- decided cases: `decided_at` in the period (their latest payer decision).
- staff touches per case: timeline events with a person as actor on the
  decided cases, divided by their number.
- first-pass approval: a decided case whose timeline has an approval and no
  pend, denial or partial approval.
- time to decision: median and p90 of decided_at − submitted_at and of
  decided_at − order received, over the decided cases.
- payer responses: status moves into approved / partially approved /
  denied / pended made in the period; each rate is its share of them.
- denial reasons: denials in the period by reason code; "preventable:
  documentation" when the reason mentions documentation or its code is
  listed in `DENIAL_DOCUMENTATION_CODES`.
- backlog: open cases now (period ignored), with their age since received.
- CMS-0057-F: decided cases of impacted payers, decided within 72 h
  (expedited) or 7 days (standard) of submission.
- reschedules avoided: approvals in the period on or before the scheduled
  date of the service (local date).
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.db.models import Count, DurationField, Exists, ExpressionWrapper, F, Max, OuterRef, Q
from django.db.models.functions import TruncDate
from django.utils import timezone

from cases.metrics.percentiles import grouped_percentiles, percentiles
from cases.models import CaseEvent, PriorAuthCase, Provider, Status, Urgency

RESPONSES = (Status.APPROVED, Status.PARTIALLY_APPROVED, Status.DENIED, Status.PENDED)
APPROVALS = (Status.APPROVED, Status.PARTIALLY_APPROVED)
DOCUMENTATION_CODES = tuple(getattr(settings, "DENIAL_DOCUMENTATION_CODES", ("CO-197", "CO-252", "N706")))


@dataclass(frozen=True)
class Filters:
    date_from: date
    date_to: date
    payer_id: int | None = None
    category: str = ""
    provider_id: int | None = None
    location_id: int | None = None

    def bounds(self, tz) -> tuple[datetime, datetime]:
        start = datetime.combine(self.date_from, time.min, tzinfo=tz)
        end = datetime.combine(self.date_to + timedelta(days=1), time.min, tzinfo=tz)
        return start, end


def _cases(practice, filters: Filters):
    qs = PriorAuthCase.objects.filter(practice=practice).order_by()
    if filters.payer_id:
        qs = qs.filter(payer_id=filters.payer_id)
    if filters.category:
        qs = qs.filter(rule__category=filters.category)
    if filters.provider_id:
        qs = qs.filter(order__ordering_provider_id=filters.provider_id)
    if filters.location_id:
        qs = qs.filter(order__location_id=filters.location_id)
    return qs


def _event_filter(filters: Filters) -> Q:
    """The same filters, seen from a CaseEvent."""
    q = Q()
    if filters.payer_id:
        q &= Q(case__payer_id=filters.payer_id)
    if filters.category:
        q &= Q(case__rule__category=filters.category)
    if filters.provider_id:
        q &= Q(case__order__ordering_provider_id=filters.provider_id)
    if filters.location_id:
        q &= Q(case__order__location_id=filters.location_id)
    return q


def _rate(part, whole):
    return round(100.0 * part / whole, 1) if whole else None


def _hours(value: timedelta | None):
    return round(value.total_seconds() / 3600, 1) if value is not None else None


def _status_events(case_ref: str, statuses) -> Exists:
    return Exists(CaseEvent.objects.filter(case=OuterRef(case_ref), kind=CaseEvent.Kind.STATUS, to_status__in=statuses))


def within_cms_timeframe() -> Q:
    return Q(urgency=Urgency.EXPEDITED, decided_at__lte=F("submitted_at") + timedelta(hours=72)) | Q(
        urgency=Urgency.STANDARD, decided_at__lte=F("submitted_at") + timedelta(days=7)
    )


def dashboard_metrics(*, practice, filters: Filters, now: datetime | None = None) -> dict:
    now = now or timezone.now()
    tz = zoneinfo.ZoneInfo(practice.time_zone)
    start, end = filters.bounds(tz)
    cases = _cases(practice, filters)
    decided = cases.filter(decided_at__gte=start, decided_at__lt=end)
    events_in_period = CaseEvent.objects.filter(
        case__practice=practice, created_at__gte=start, created_at__lt=end
    ).filter(_event_filter(filters))

    # Decided cases: count, first pass, touches (one query).
    first_pass = _status_events("pk", [Status.APPROVED]) & ~_status_events(
        "pk", [Status.PENDED, Status.DENIED, Status.PARTIALLY_APPROVED]
    )
    decided_row = decided.aggregate(n=Count("pk"), first_pass=Count("pk", filter=first_pass))
    touches = CaseEvent.objects.filter(case__in=decided.values("pk"), actor__isnull=False).count()

    # Time to decision (one query on PostgreSQL).
    to_decision = ExpressionWrapper(F("decided_at") - F("submitted_at"), output_field=DurationField())
    from_order = ExpressionWrapper(F("decided_at") - F("order__created_at"), output_field=DurationField())
    submitted_decided = decided.filter(submitted_at__isnull=False)
    sub_p = percentiles(submitted_decided, to_decision, (0.5, 0.9), duration=True)
    order_p = percentiles(decided, from_order, (0.5, 0.9), duration=True)

    # Payer responses in the period.
    responses = dict(
        events_in_period.filter(kind=CaseEvent.Kind.STATUS, to_status__in=RESPONSES)
        .values_list("to_status")
        .annotate(n=Count("pk"))
    )
    total_responses = sum(responses.values())

    # Denial reasons.
    documentation = Q(case__denial_reason_text__icontains="document") | Q(
        case__denial_reason_code__in=DOCUMENTATION_CODES
    )
    denials = events_in_period.filter(kind=CaseEvent.Kind.STATUS, to_status=Status.DENIED)
    denial_totals = denials.aggregate(n=Count("pk"), preventable=Count("pk", filter=documentation))
    reasons = list(
        denials.values("case__denial_reason_code")
        .annotate(n=Count("pk"), text=Max("case__denial_reason_text"), preventable=Count("pk", filter=documentation))
        .order_by("-n", "case__denial_reason_code")[:10]
    )

    # Backlog now.
    open_cases = cases.open()
    age = ExpressionWrapper(now - F("created_at"), output_field=DurationField())
    backlog = open_cases.aggregate(
        n=Count("pk"),
        under_2d=Count("pk", filter=Q(created_at__gt=now - timedelta(days=2))),
        d2_7=Count("pk", filter=Q(created_at__lte=now - timedelta(days=2), created_at__gt=now - timedelta(days=7))),
        d7_14=Count("pk", filter=Q(created_at__lte=now - timedelta(days=7), created_at__gt=now - timedelta(days=14))),
        over_14d=Count("pk", filter=Q(created_at__lte=now - timedelta(days=14))),
    )
    backlog_age = percentiles(open_cases, age, (0.5,), duration=True)[0.5]
    providers = Provider.objects.filter(practice=practice)
    if filters.provider_id:
        providers = providers.filter(pk=filters.provider_id)
    provider_count = providers.count()

    # CMS-0057-F per impacted payer.
    cms_rows = list(
        decided.filter(payer__cms_impacted=True, submitted_at__isnull=False)
        .values("payer_id", "payer__name")
        .annotate(n=Count("pk"), within=Count("pk", filter=within_cms_timeframe()))
        .order_by("payer__name")
    )

    # Payer scorecard: decisions (cases), first pass, responses, median turnaround.
    score_rows = list(
        decided.filter(payer__isnull=False)
        .values("payer_id", "payer__name", "payer__cms_impacted")
        .annotate(
            n=Count("pk"),
            first_pass=Count("pk", filter=first_pass),
            within=Count("pk", filter=within_cms_timeframe() & Q(submitted_at__isnull=False)),
            submitted=Count("pk", filter=Q(submitted_at__isnull=False)),
        )
        .order_by("payer__name")
    )
    payer_responses: dict[int, dict[str, int]] = {}
    for row in (
        events_in_period.filter(kind=CaseEvent.Kind.STATUS, to_status__in=RESPONSES, case__payer__isnull=False)
        .values("case__payer_id", "to_status")
        .annotate(n=Count("pk"))
    ):
        payer_responses.setdefault(row["case__payer_id"], {})[row["to_status"]] = row["n"]
    medians = grouped_percentiles(submitted_decided, ["payer_id"], to_decision, 0.5, duration=True)

    # Reschedules avoided.
    approvals = events_in_period.filter(
        kind=CaseEvent.Kind.STATUS, to_status__in=APPROVALS, case__order__scheduled_date__isnull=False
    ).annotate(on=TruncDate("created_at", tzinfo=tz))
    resched = approvals.aggregate(
        with_appointment=Count("case", distinct=True),
        avoided=Count("case", distinct=True, filter=Q(on__lte=F("case__order__scheduled_date"))),
    )

    def scorecard(row):
        r = payer_responses.get(row["payer_id"], {})
        total = sum(r.values())
        median = medians.get((row["payer_id"],), (None, 0))[0]
        return {
            "payer": row["payer__name"],
            "decided": row["n"],
            "approval_rate": _rate(r.get(Status.APPROVED, 0) + r.get(Status.PARTIALLY_APPROVED, 0), total),
            "denial_rate": _rate(r.get(Status.DENIED, 0), total),
            "pend_rate": _rate(r.get(Status.PENDED, 0), total),
            "first_pass_rate": _rate(row["first_pass"], row["n"]),
            "median_hours": _hours(median),
            "cms_compliance": _rate(row["within"], row["submitted"]) if row["payer__cms_impacted"] else None,
        }

    return {
        "period": (filters.date_from, filters.date_to),
        "decided": decided_row["n"],
        "touches_per_case": round(touches / decided_row["n"], 2) if decided_row["n"] else None,
        "touches": touches,
        "first_pass": decided_row["first_pass"],
        "first_pass_rate": _rate(decided_row["first_pass"], decided_row["n"]),
        "time_to_decision": {
            "submission_median_hours": _hours(sub_p[0.5]),
            "submission_p90_hours": _hours(sub_p[0.9]),
            "order_median_hours": _hours(order_p[0.5]),
            "order_p90_hours": _hours(order_p[0.9]),
        },
        "responses": [
            {
                "status": s.value,
                "label": s.label,
                "n": responses.get(s, 0),
                "rate": _rate(responses.get(s, 0), total_responses),
            }
            for s in RESPONSES
        ],
        "responses_total": total_responses,
        "denials": denial_totals["n"],
        "denials_preventable": denial_totals["preventable"],
        "preventable_share": _rate(denial_totals["preventable"], denial_totals["n"]),
        "denial_reasons": [
            {
                "code": r["case__denial_reason_code"] or "—",
                "text": r["text"] or "",
                "n": r["n"],
                "preventable": r["preventable"] > 0,
            }
            for r in reasons
        ],
        "backlog": {
            "open": backlog["n"],
            "median_age_days": round(backlog_age.total_seconds() / 86400, 1) if backlog_age is not None else None,
            "ages": [
                ("under 2 days", backlog["under_2d"]),
                ("2–7 days", backlog["d2_7"]),
                ("7–14 days", backlog["d7_14"]),
                ("over 14 days", backlog["over_14d"]),
            ],
            "providers": provider_count,
            "per_10_providers": round(10 * backlog["n"] / provider_count, 1) if provider_count else None,
        },
        "cms": [
            {"payer": r["payer__name"], "decided": r["n"], "within": r["within"], "rate": _rate(r["within"], r["n"])}
            for r in cms_rows
        ],
        "scorecard": [scorecard(r) for r in score_rows],
        "reschedules": {
            "with_appointment": resched["with_appointment"],
            "avoided": resched["avoided"],
            "rate": _rate(resched["avoided"], resched["with_appointment"]),
        },
    }
