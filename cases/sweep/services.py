"""The sweep's writes: store a sweep of one practice, claim the scheduled day, act on items.

`sweep_run` stores a `Sweep` with its `SweepItem`s now (the page's button,
`run_sweep`); `sweep_due` is the once-per-weekday claim the every-minute
schedule calls. Which case lands in which bucket is `cases.sweep.buckets`.
"""

from __future__ import annotations

import logging
import time
from datetime import date, datetime, timedelta

from django.db import IntegrityError, connection, transaction
from django.db.models import (
    BigIntegerField,
    Case,
    CharField,
    Count,
    DateField,
    Exists,
    F,
    OuterRef,
    Value,
    When,
)
from django.db.models.functions import Cast, TruncDate
from django.utils import timezone

from cases.models import Practice, PriorAuthCase, Role, Status, Task
from cases.services import cases_assign_bulk, task_create
from cases.sweep.buckets import (
    BUCKETS,
    SweepContext,
    bucket_querysets,
    describe_items,
    holidays_for,
    is_sweep_day,
    practice_tz,
    short_date,
    sweep_time,
)
from cases.sweep.models import Bucket, Sweep, SweepItem

log = logging.getLogger(__name__)

# A scheduled sweep still "running" this long after its claim died with its
# worker (the sweep takes seconds): the next tick may take the day over.
STALE_CLAIM = timedelta(minutes=10)


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

    Through the one bulk assignment (`cases_assign_bulk`): each case is
    locked and on its timeline. Returns how many cases changed hands.
    """
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
    return cases_assign_bulk(cases=cases, user=user, actor=actor)


def sweep_item_reschedule_task(*, item: SweepItem, actor) -> Task | None:
    """Give front desk a "reschedule" task for a schedule-at-risk item (once per appointment date)."""
    order = item.case.order
    return task_create(
        case=item.case,
        kind=Task.Kind.RESCHEDULE,
        title=f"Reschedule the {short_date(order.scheduled_date)} appointment (decision expected later)",
        detail=describe_items(item.sweep, [item])[0].next_step,
        role=Role.FRONT_DESK,
        actor=actor,
        dedupe_key=f"reschedule:{order.scheduled_date.isoformat()}",
    )
