"""The 7:30 a.m. sweep's rules: sort every open case into buckets, with a next step.

Reads only: `bucket_querysets` builds one queryset per bucket over the
practice's open cases (the rules are here, as filters, so the database does
the sorting) and `describe_items` writes an item's summary and next step.
Storing a sweep is `cases.sweep.services` (`sweep_run`, `sweep_due`).

A case can be in several buckets: "schedule at risk", "new denials" and
"stalled" overlay the work buckets (a gathering case whose appointment comes
first is both missing documentation and at risk).

Rules (now = the sweep's moment, dates in the practice's time zone):
- ready_to_submit: status ready.
- missing_documentation: gathering (packet has gaps), or pended (the payer
  asked for information).
- payer_follow_up: submitted / pended / appealed and either the decision
  deadline has been reached (`decision_due_at <= now`), or there has been no
  status change for the payer's poll cadence and no automatic poll is
  scheduled in the future (`next_poll_at` empty or due).
- clinician_input: needs_clinician, or an open clinical-input / peer-to-peer task.
- schedule_at_risk: not yet decided, appointment today or later, and the
  appointment date is before the expected decision date: (submitted_at, or
  now if not submitted yet) + the payer's observed median turnaround over
  the last 180 days (at least 5 decisions of that urgency), falling back to
  its configured window (`Payer.decision_window`).
- new_denials: denied (not yet appealed or closed) after the previous
  sweep moment (the last weekday's sweep time, holidays skipped) and up to now.
- stalled: open and no status change for the payer's stall threshold
  (72 h when the payer is unknown).
"""

from __future__ import annotations

import logging
import zoneinfo
from datetime import date, datetime, timedelta
from datetime import time as dt_time
from functools import cached_property

from django.db.models import (
    Case,
    Count,
    DateTimeField,
    DurationField,
    Exists,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from cases.metrics.percentiles import grouped_percentiles
from cases.models import Practice, PriorAuthCase, RequirementStatus, Status, Task, Urgency
from cases.sweep.models import Bucket, Sweep, SweepHoliday, SweepItem
from cases.transitions import AWAITING_PAYER
from cases.words import channel_words
from payers.models import Channel, Payer

log = logging.getLogger(__name__)

BUCKETS: tuple[str, ...] = tuple(Bucket.values)
UNDECIDED = (
    Status.NEW,
    Status.GATHERING,
    Status.NEEDS_CLINICIAN,
    Status.READY,
    Status.SUBMITTED,
    Status.PENDED,
    Status.APPEALED,
)
CLINICIAN_TASKS = (Task.Kind.CLINICIAN_INPUT, Task.Kind.PEER_TO_PEER)
DEFAULT_STALL_HOURS = 72
DEFAULT_POLL_HOURS = 8
# Observed turnaround is used only with enough recent decisions to mean something.
TURNAROUND_WINDOW = timedelta(days=180)
TURNAROUND_MIN_DECISIONS = 5


# --- calendar ---------------------------------------------------------------


def practice_tz(practice: Practice) -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(practice.time_zone)


def holidays_for(practice: Practice) -> set[date]:
    return set(
        SweepHoliday.objects.filter(Q(practice=practice) | Q(practice__isnull=True)).values_list("date", flat=True)
    )


def is_sweep_day(day: date, holidays: set[date]) -> bool:
    return day.weekday() < 5 and day not in holidays


def sweep_time(practice: Practice) -> dt_time:
    # The field's default is the string "07:30" until the row is re-read.
    value = practice.sweep_time
    return dt_time.fromisoformat(value) if isinstance(value, str) else value


def sweep_moment(practice: Practice, day: date) -> datetime:
    """The aware datetime of the practice's sweep time on `day` (local)."""
    return datetime.combine(day, sweep_time(practice), tzinfo=practice_tz(practice))


def previous_sweep_moment(practice: Practice, now: datetime, holidays: set[date] | None = None) -> datetime:
    """The sweep moment of the last sweep day before today's local date.

    Monday looks back to Friday; a holiday is skipped like a weekend.
    """
    holidays = holidays_for(practice) if holidays is None else holidays
    day = timezone.localtime(now, practice_tz(practice)).date() - timedelta(days=1)
    for _ in range(31):
        if is_sweep_day(day, holidays):
            return sweep_moment(practice, day)
        day -= timedelta(days=1)
    return sweep_moment(practice, day)


# --- turnaround ---------------------------------------------------------------


def payer_turnarounds(now: datetime) -> dict[tuple[int, str], tuple[timedelta, str]]:
    """{(payer id, urgency): (expected turnaround, "observed" | "configured")}.

    Observed = median of submitted → decided over the last 180 days, one
    aggregate query; configured = the payer's decision window.
    """
    decided = PriorAuthCase.objects.filter(
        payer__isnull=False,
        submitted_at__isnull=False,
        decided_at__gte=now - TURNAROUND_WINDOW,
        decided_at__lte=now,
    )
    observed = grouped_percentiles(
        decided,
        ["payer_id", "urgency"],
        ExpressionWrapper(F("decided_at") - F("submitted_at"), output_field=DurationField()),
        0.5,
        duration=True,
    )
    result: dict[tuple[int, str], tuple[timedelta, str]] = {}
    for payer in Payer.objects.only(
        "id", "cms_impacted", "standard_turnaround_hours", "expedited_turnaround_hours"
    ).order_by():
        for urgency in Urgency.values:
            median, count = observed.get((payer.pk, urgency), (None, 0))
            if median is not None and count >= TURNAROUND_MIN_DECISIONS:
                result[(payer.pk, urgency)] = (median, "observed")
            else:
                window = payer.decision_window(expedited=urgency == Urgency.EXPEDITED)
                result[(payer.pk, urgency)] = (window, "configured")
    return result


def _expected_decision(turnarounds, now: datetime):
    """SQL expression: when the payer is expected to decide this case."""
    whens = [
        When(payer_id=payer_id, urgency=urgency, then=Value(span, output_field=DurationField()))
        for (payer_id, urgency), (span, _) in turnarounds.items()
    ]
    # Unknown payer: the longest configured standard window (14 days by default).
    fallback = timedelta(hours=Payer._meta.get_field("standard_turnaround_hours").default)
    span = Case(*whens, default=Value(fallback, output_field=DurationField()), output_field=DurationField())
    base = Coalesce(F("submitted_at"), Value(now, output_field=DateTimeField()), output_field=DateTimeField())
    return ExpressionWrapper(base + span, output_field=DateTimeField())


def _per_payer_cutoff(field: str, hours_by_payer: dict[int, int], default_hours: int, now: datetime) -> Q:
    """Q: `field` is at least the payer's number of hours before now."""
    condition = Q(payer__isnull=True, **{f"{field}__lte": now - timedelta(hours=default_hours)})
    by_hours: dict[int, list[int]] = {}
    for payer_id, hours in hours_by_payer.items():
        by_hours.setdefault(hours, []).append(payer_id)
    for hours, payer_ids in by_hours.items():
        condition |= Q(payer_id__in=payer_ids, **{f"{field}__lte": now - timedelta(hours=hours)})
    return condition


# --- buckets (reads) ----------------------------------------------------------


class SweepContext:
    """What the bucket rules need besides the cases, read once per sweep."""

    @cached_property
    def turnarounds(self):
        return payer_turnarounds(self.now)

    def __init__(self, practice: Practice, now: datetime):
        self.practice = practice
        self.now = now
        self.tz = practice_tz(practice)
        self.today = timezone.localtime(now, self.tz).date()
        self.holidays = holidays_for(practice)
        self.since = previous_sweep_moment(practice, now, self.holidays)

    @cached_property
    def _payer_hours(self) -> list[dict]:
        return list(Payer.objects.values("id", "poll_interval_hours", "stall_threshold_hours"))

    @property
    def poll_hours(self) -> dict[int, int]:
        return {p["id"]: p["poll_interval_hours"] for p in self._payer_hours}

    @property
    def stall_hours(self) -> dict[int, int]:
        return {p["id"]: p["stall_threshold_hours"] for p in self._payer_hours}


def bucket_querysets(ctx: SweepContext) -> dict[str, QuerySet]:
    """One queryset of cases per bucket (see the module docstring for the rules)."""
    now = ctx.now
    cases = PriorAuthCase.objects.filter(practice=ctx.practice).open().order_by()
    open_clinician_task = Task.objects.filter(case=OuterRef("pk"), kind__in=CLINICIAN_TASKS, done_at__isnull=True)
    cadence_passed = _per_payer_cutoff("status_changed_at", ctx.poll_hours, DEFAULT_POLL_HOURS, now) & (
        Q(next_poll_at__isnull=True) | Q(next_poll_at__lte=now)
    )
    at_risk = (
        cases.filter(status__in=UNDECIDED, order__scheduled_date__gte=ctx.today)
        .annotate(expected_at=_expected_decision(ctx.turnarounds, now))
        .annotate(expected_on=TruncDate("expected_at", tzinfo=ctx.tz))
        .filter(order__scheduled_date__lt=F("expected_on"))
    )
    return {
        Bucket.READY_TO_SUBMIT: cases.filter(status=Status.READY),
        Bucket.MISSING_DOCUMENTATION: cases.filter(status__in=(Status.GATHERING, Status.PENDED)),
        Bucket.PAYER_FOLLOW_UP: cases.filter(status__in=AWAITING_PAYER).filter(
            Q(decision_due_at__lte=now) | cadence_passed
        ),
        Bucket.CLINICIAN_INPUT: cases.filter(Q(status=Status.NEEDS_CLINICIAN) | Exists(open_clinician_task)),
        Bucket.SCHEDULE_AT_RISK: at_risk,
        Bucket.NEW_DENIALS: cases.filter(status=Status.DENIED, decided_at__gt=ctx.since, decided_at__lte=now),
        Bucket.STALLED: cases.filter(_per_payer_cutoff("status_changed_at", ctx.stall_hours, DEFAULT_STALL_HOURS, now)),
    }


# Columns each item's text is written from; read with values() so 100 000
# open cases do not become 100 000 model instances.
_ROW_FIELDS = (
    "id",
    "status",
    "status_changed_at",
    "submitted_at",
    "decision_due_at",
    "decided_at",
    "submission_approved_at",
    "urgency",
    "order__estimated_cost",
    "denial_reason_code",
    "appeal_deadline",
    "channel",
    "order__code_system",
    "order__code",
    "order__description",
    "order__scheduled_date",
    "order__ordering_provider__last_name",
    "payer__name",
    "payer__phone",
    "payer__default_channel",
    "payer__cms_impacted",
)


def _rows(bucket: str, queryset: QuerySet):
    fields = list(_ROW_FIELDS)
    if bucket == Bucket.SCHEDULE_AT_RISK:
        fields += ["expected_on"]
    if bucket == Bucket.MISSING_DOCUMENTATION:
        gaps = RequirementStatus.objects.filter(case=OuterRef("pk"), state=RequirementStatus.State.GAP)
        queryset = queryset.annotate(
            gap_count=Coalesce(
                Subquery(gaps.order_by().values("case").annotate(n=Count("pk")).values("n")[:1]), Value(0)
            ),
            first_gap=Subquery(
                gaps.order_by("requirement__position", "requirement_id").values("requirement__description")[:1]
            ),
        )
        fields += ["gap_count", "first_gap"]
    if bucket == Bucket.CLINICIAN_INPUT:
        queryset = queryset.annotate(
            clinician_task=Subquery(
                Task.objects.filter(case=OuterRef("pk"), kind__in=CLINICIAN_TASKS, done_at__isnull=True)
                .order_by("due_at", "id")
                .values("title")[:1]
            )
        )
        fields += ["clinician_task"]
    return queryset.values(*fields)


# --- text -----------------------------------------------------------------------


def short_date(value) -> str:
    return f"{value:%b} {value.day}"


def _days_since(then: datetime | None, now: datetime) -> int:
    return max(0, (now - then).days) if then else 0


def _channel_label(row) -> str:
    value = row["channel"] or row["payer__default_channel"] or ""
    return channel_words(value) if value in Channel.values else "the payer's channel"


def item_text(bucket: str, row: dict, ctx: SweepContext) -> tuple[str, str, date | None]:
    """(summary, next step, due date) for one case in one bucket. Deterministic.

    Only what the queue already shows: service, payer, status, dates. No
    patient name, birth date or MRN, so a stored sweep reads the same to
    everyone who may see the item.
    """
    now, tz = ctx.now, ctx.tz
    payer = row["payer__name"] or "payer unknown"
    status_label = Status(row["status"]).label
    age = _days_since(row["status_changed_at"], now)
    service = f"{row['order__code_system']} {row['order__code']} {row['order__description']}"[:120]
    since = "since today" if age == 0 else f"for {age} day{'s' if age != 1 else ''}"
    summary = f"{service} · {payer} · {status_label} {since}"
    due: date | None = None

    if bucket == Bucket.READY_TO_SUBMIT:
        needs = ctx.practice.requires_approval(urgency=row["urgency"], estimated_cost=row["order__estimated_cost"])
        if needs and not row["submission_approved_at"]:
            step = f"Approve the submission, then submit via {_channel_label(row)}"
        else:
            step = f"Submit to {payer} via {_channel_label(row)}"
    elif bucket == Bucket.MISSING_DOCUMENTATION:
        if row["status"] == Status.PENDED:
            step = f"Answer {payer}'s request for information"
            if row["decision_due_at"]:
                due = timezone.localtime(row["decision_due_at"], tz).date()
                step += f" (decision due {short_date(due)})"
        elif row.get("gap_count"):
            more = f" and {row['gap_count'] - 1} more" if row["gap_count"] > 1 else ""
            step = f"Collect: {row['first_gap']}{more}"
        else:
            step = "No gaps recorded: check the packet and mark it ready"
    elif bucket == Bucket.PAYER_FOLLOW_UP:
        deadline = row["decision_due_at"]
        phone = f" ({row['payer__phone']})" if row["payer__phone"] else ""
        if deadline and deadline <= now:
            due = timezone.localtime(deadline, tz).date()
            rule = "CMS-0057-F deadline" if row["payer__cms_impacted"] else "decision deadline"
            step = f"Past the {rule} of {short_date(due)}: call {payer}{phone}"
        else:
            step = f"No payer update for {age} day{'s' if age != 1 else ''}: check status with {payer}{phone}"
            if deadline:
                due = timezone.localtime(deadline, tz).date()
    elif bucket == Bucket.CLINICIAN_INPUT:
        doctor = row["order__ordering_provider__last_name"]
        what = row.get("clinician_task") or "review and attest the medical-necessity summary"
        step = f"Dr. {doctor}: {what[:150]}"
    elif bucket == Bucket.SCHEDULE_AT_RISK:
        due = row["order__scheduled_date"]
        step = (
            f"Appointment {short_date(due)} is before the expected decision ({short_date(row['expected_on'])}): "
            "reschedule or ask for expedited review"
        )
    elif bucket == Bucket.NEW_DENIALS:
        code = f" ({row['denial_reason_code']})" if row["denial_reason_code"] else ""
        due = row["appeal_deadline"]
        deadline = f"by {short_date(due)}" if due else "(no appeal deadline recorded: check the letter)"
        step = f"Denied{code}: decide on appeal or peer-to-peer {deadline}"
    elif bucket == Bucket.STALLED:
        step = f"No status change for {age} day{'s' if age != 1 else ''}: find the blocker or escalate"
    else:  # pragma: no cover - Bucket is closed
        raise ValueError(bucket)
    return summary[:300], step[:300], due


def describe_items(sweep: Sweep, items) -> list[SweepItem]:
    """Set `.summary` and `.next_step` on each item: written from its case's data, "now" = the sweep's moment.

    A few queries per bucket shown, whatever the number of items (a page is 50).
    """
    items = list(items)
    ctx = SweepContext(sweep.practice, sweep.as_of)
    by_bucket: dict[str, list[SweepItem]] = {}
    for item in items:
        by_bucket.setdefault(item.bucket, []).append(item)
    for bucket, group in by_bucket.items():
        queryset = PriorAuthCase.objects.filter(pk__in=[i.case_id for i in group]).order_by()
        if bucket == Bucket.SCHEDULE_AT_RISK:
            queryset = queryset.annotate(expected_at=_expected_decision(ctx.turnarounds, ctx.now)).annotate(
                expected_on=TruncDate("expected_at", tzinfo=ctx.tz)
            )
        rows = {row["id"]: row for row in _rows(bucket, queryset)}
        for item in group:
            row = rows.get(item.case_id)
            if row is None:  # pragma: no cover - items cascade with their case
                item.summary, item.next_step = "", ""
                continue
            item.summary, item.next_step, _ = item_text(bucket, row, ctx)
    return items
