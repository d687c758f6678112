"""The 7:30 a.m. sweep: sort every open case into buckets, with a next step.

Reads: `bucket_querysets` builds one queryset per bucket over the practice's
open cases (the rules are here, as filters, so the database does the sorting).
Writes: `sweep_run` stores a `Sweep` with its `SweepItem`s; `sweep_due` is the
once-per-weekday claim the every-minute schedule calls.

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
import time
import zoneinfo
from datetime import date, datetime, timedelta
from datetime import time as dt_time
from functools import cached_property

from django.db import IntegrityError, connection, transaction
from django.db.models import (
    BigIntegerField,
    Case,
    CharField,
    Count,
    DateField,
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
from django.db.models.functions import Cast, Coalesce, TruncDate
from django.utils import timezone

from cases.models import (
    Bucket,
    Practice,
    PriorAuthCase,
    RequirementStatus,
    Status,
    Sweep,
    SweepHoliday,
    SweepItem,
    Task,
    Urgency,
)
from cases.stats import grouped_percentiles
from cases.transitions import AWAITING_PAYER
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
# A scheduled sweep still "running" this long after its claim died with its
# worker (the sweep takes seconds): the next tick may take the day over.
STALE_CLAIM = timedelta(minutes=10)


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


def _day(value) -> str:
    return f"{value:%b} {value.day}"


def _days_since(then: datetime | None, now: datetime) -> int:
    return max(0, (now - then).days) if then else 0


def _channel_label(row) -> str:
    value = row["channel"] or row["payer__default_channel"] or ""
    return Channel(value).label if value in Channel.values else "the payer's channel"


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
        if ctx.practice.submission_requires_approval and not row["submission_approved_at"]:
            step = f"Approve the submission, then submit via {_channel_label(row)}"
        else:
            step = f"Submit to {payer} via {_channel_label(row)}"
    elif bucket == Bucket.MISSING_DOCUMENTATION:
        if row["status"] == Status.PENDED:
            step = f"Answer {payer}'s request for information"
            if row["decision_due_at"]:
                due = timezone.localtime(row["decision_due_at"], tz).date()
                step += f" (decision due {_day(due)})"
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
            step = f"Past the {rule} of {_day(due)}: call {payer}{phone}"
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
            f"Appointment {_day(due)} is before the expected decision ({_day(row['expected_on'])}): "
            "reschedule or ask for expedited review"
        )
    elif bucket == Bucket.NEW_DENIALS:
        code = f" ({row['denial_reason_code']})" if row["denial_reason_code"] else ""
        due = row["appeal_deadline"]
        deadline = f"by {_day(due)}" if due else "(no appeal deadline recorded: check the letter)"
        step = f"Denied{code}: decide on appeal or peer-to-peer {deadline}"
    elif bucket == Bucket.STALLED:
        step = f"No status change for {age} day{'s' if age != 1 else ''}: find the blocker or escalate"
    else:  # pragma: no cover - Bucket is closed
        raise ValueError(bucket)
    return summary[:300], step[:300], due


# --- writes ---------------------------------------------------------------------


def _due_on(bucket: str, tz):
    """SQL expression: the date an item is due (appointment, appeal deadline, decision deadline)."""
    if bucket == Bucket.SCHEDULE_AT_RISK:
        return F("order__scheduled_date")
    if bucket == Bucket.NEW_DENIALS:
        return F("appeal_deadline")
    if bucket == Bucket.PAYER_FOLLOW_UP:
        return TruncDate("decision_due_at", tzinfo=tz)
    if bucket == Bucket.MISSING_DOCUMENTATION:
        return Case(
            When(status=Status.PENDED, then=TruncDate("decision_due_at", tzinfo=tz)),
            default=None,
            output_field=DateField(),
        )
    # A bare NULL parameter would reach PostgreSQL as text.
    return Cast(Value(None), output_field=DateField())


def sweep_compute(*, sweep: Sweep) -> dict[str, int]:
    """Fill `sweep` with its items (replacing any) and mark it done. Returns the counts.

    One INSERT … SELECT per bucket: the cases never travel to Python, which
    keeps a sweep of 100 000 open cases within seconds (docs/performance.md).
    """
    started = time.monotonic()
    ctx = SweepContext(sweep.practice, sweep.as_of)
    counts: dict[str, int] = {}
    table = connection.ops.quote_name(SweepItem._meta.db_table)
    quote = connection.ops.quote_name
    with transaction.atomic():
        SweepItem.objects.filter(sweep=sweep).delete()
        for bucket, queryset in bucket_querysets(ctx).items():
            select = queryset.annotate(
                _sweep=Value(sweep.pk, output_field=BigIntegerField()),
                _case=F("pk"),
                _bucket=Value(str(bucket), output_field=CharField()),
                _due=_due_on(bucket, ctx.tz),
            ).values_list("_sweep", "_case", "_bucket", "_due")
            sql, params = select.query.sql_with_params()
            columns = ", ".join(f"sub.{quote(name)}" for name in ("_sweep", "_case", "_bucket", "_due"))
            with connection.cursor() as cursor:
                cursor.execute(
                    f"INSERT INTO {table} (sweep_id, case_id, bucket, due_on) SELECT {columns} FROM ({sql}) sub",  # noqa: S608
                    params,
                )
                counts[str(bucket)] = cursor.rowcount
        sweep.counts = counts
        sweep.state = Sweep.State.DONE
        sweep.finished_at = timezone.now()
        sweep.duration_ms = int((time.monotonic() - started) * 1000)
        sweep.save(update_fields=["counts", "state", "finished_at", "duration_ms"])
    log.info("sweep %s practice=%s counts=%s in %s ms", sweep.pk, sweep.practice_id, counts, sweep.duration_ms)
    return counts


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


def sweep_run(*, practice: Practice, now: datetime | None = None, actor=None) -> Sweep:
    """Run a sweep now, on demand (the page's button, `run_sweep`). Not limited per day."""
    now = now or timezone.now()
    sweep = Sweep.objects.create(
        practice=practice,
        run_date=timezone.localtime(now, practice_tz(practice)).date(),
        trigger=Sweep.Trigger.MANUAL,
        as_of=now,
        started_at=now,
        triggered_by=actor,
    )
    sweep_compute(sweep=sweep)
    return sweep


def sweep_claim_day(*, practice: Practice, day: date, now: datetime) -> Sweep | None:
    """Claim the scheduled sweep of `day`, or None if it is already claimed.

    The claim is the insert of the day's row (unique per practice and local
    date), committed before any work: a second worker, a replayed schedule or
    a restarted cluster all hit the constraint. A claim whose worker died
    (still running after STALE_CLAIM) is taken over by a conditional update.
    """
    try:
        with transaction.atomic():
            return Sweep.objects.create(
                practice=practice, run_date=day, trigger=Sweep.Trigger.SCHEDULED, as_of=now, started_at=now
            )
    except IntegrityError:
        taken = Sweep.objects.filter(
            practice=practice,
            run_date=day,
            trigger=Sweep.Trigger.SCHEDULED,
            state=Sweep.State.RUNNING,
            started_at__lt=now - STALE_CLAIM,
        ).update(started_at=now, as_of=now)
        if taken != 1:
            return None
        return Sweep.objects.get(practice=practice, run_date=day, trigger=Sweep.Trigger.SCHEDULED)


def sweep_due(*, practice: Practice, now: datetime | None = None) -> Sweep | None:
    """The scheduled sweep, if today (local) is a sweep day, its time has come and nobody ran it yet.

    Called every minute. A sweep missed because the cluster was down runs at
    the first tick after it comes back the same day, once.
    """
    now = now or timezone.now()
    local = timezone.localtime(now, practice_tz(practice))
    if local.time() < sweep_time(practice) or not is_sweep_day(local.date(), holidays_for(practice)):
        return None
    if Sweep.objects.filter(practice=practice, run_date=local.date(), trigger=Sweep.Trigger.SCHEDULED).exists():
        return None  # cheap check before the claim; the claim is what guarantees once
    sweep = sweep_claim_day(practice=practice, day=local.date(), now=now)
    if sweep is None:
        return None
    sweep_compute(sweep=sweep)
    return sweep


# --- comparisons (reads) ------------------------------------------------------------


def previous_sweep(sweep: Sweep) -> Sweep | None:
    """The latest finished sweep of an earlier local day: "yesterday" for the page."""
    return (
        Sweep.objects.filter(practice_id=sweep.practice_id, state=Sweep.State.DONE, run_date__lt=sweep.run_date)
        .order_by("-run_date", "-as_of")
        .first()
    )


def latest_sweep(practice_id: int) -> Sweep | None:
    return (
        Sweep.objects.filter(practice_id=practice_id, state=Sweep.State.DONE)
        .select_related("practice")
        .order_by("-as_of", "-id")
        .first()
    )


def sweep_changes(sweep: Sweep, before: Sweep | None) -> dict[str, dict[str, int]]:
    """Per bucket: count now, count before, cases that entered and that left. Two aggregate queries."""
    result = {b: {"count": sweep.counts.get(b, 0), "before": 0, "entered": 0, "left": 0} for b in BUCKETS}
    if before is None:
        for row in result.values():
            row["entered"] = row["count"]
        return result
    for b in BUCKETS:
        result[b]["before"] = before.counts.get(b, 0)

    def in_other(other: Sweep):
        return Exists(SweepItem.objects.filter(sweep=other, bucket=OuterRef("bucket"), case_id=OuterRef("case_id")))

    entered = (
        SweepItem.objects.filter(sweep=sweep)
        .exclude(in_other(before))
        .order_by()
        .values("bucket")
        .annotate(n=Count("pk"))
    )
    left = (
        SweepItem.objects.filter(sweep=before)
        .exclude(in_other(sweep))
        .order_by()
        .values("bucket")
        .annotate(n=Count("pk"))
    )
    for row in entered:
        result[row["bucket"]]["entered"] = row["n"]
    for row in left:
        result[row["bucket"]]["left"] = row["n"]
    return result


# --- actions from the page (writes) ---------------------------------------------------


def sweep_bulk_assign(*, sweep: Sweep, bucket: str, user, actor, case_ids: list[int] | None = None) -> int:
    """Assign the open cases of one bucket of `sweep` (all, or those in `case_ids`) to `user`.

    Each assignment goes through `case_assign`, so each is locked and on
    the case's timeline. Returns how many cases changed hands.
    """
    from cases.services import case_assign

    if bucket not in BUCKETS:
        raise ValueError(f"Unknown bucket {bucket!r}")
    if user.practice_id != sweep.practice_id:
        raise ValueError("Cannot assign to a user of another practice.")
    cases = (
        PriorAuthCase.objects.visible_to(actor)
        .open()
        .filter(sweep_items__sweep=sweep, sweep_items__bucket=bucket)
        .exclude(assignee=user)
        .order_by("pk")
    )
    if case_ids is not None:
        cases = cases.filter(pk__in=case_ids)
    changed = 0
    for case in cases:
        case_assign(case=case, user=user, actor=actor)
        changed += 1
    return changed


def sweep_item_reschedule_task(*, item: SweepItem, actor) -> Task | None:
    """Give front desk a "reschedule" task for a schedule-at-risk item (once per appointment date)."""
    from cases.models import Role
    from cases.services import task_create

    order = item.case.order
    return task_create(
        case=item.case,
        kind=Task.Kind.RESCHEDULE,
        title=f"Reschedule the {_day(order.scheduled_date)} appointment (decision expected later)",
        detail=describe_items(item.sweep, [item])[0].next_step,
        role=Role.FRONT_DESK,
        actor=actor,
        dedupe_key=f"reschedule:{order.scheduled_date.isoformat()}",
    )
