"""The queue's stored priority key: the computed priority order, written on the case so the queue is an index scan.

The order staff see is unchanged (`CaseQuerySet.by_computed_priority`): expedited first, then schedule risk,
then the payer's decision deadline (none last), then the oldest, then the id. `priority_key` spells the first
four as one fixed-width string of digits, so sorting by `(priority_key, pk)` is that order on every database:

    <rank: 0 expedited+at risk, 1 expedited, 2 at risk, 3 the rest><deadline, UTC, 20 digits or 9…9><created, UTC>

Closed cases have an empty key, which keeps them out of the partial index `case_queue_priority`.

Kept current by `PriorAuthCase.save()` and `Order.save()` (so `transition()`, case creation and a changed
appointment date refresh it at once) and by the hourly schedule `cases: refresh queue priority` for what moves
with the clock alone: schedule risk compares the appointment with today + the payer's decision window, and a
payer's configured window can change in admin. Between two refreshes a case can sit at most an hour too low or high.
"""

from __future__ import annotations

import datetime as dt

from django.apps import apps
from django.db import connections
from django.utils import timezone

NO_DEADLINE = "9" * 20  # sorts after every real deadline ("nulls last")
KEY_LENGTH = 41


def _stamp(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y%m%d%H%M%S%f")


def priority_key(*, expedited: bool, at_risk: bool, decision_due_at: dt.datetime | None, created_at) -> str:
    """The sort key of one open case (see the module docstring)."""
    rank = (0 if expedited else 2) + (0 if at_risk else 1)
    due = _stamp(decision_due_at) if decision_due_at else NO_DEADLINE
    return f"{rank}{due}{_stamp(created_at)}"


def decision_windows(payers) -> dict[tuple[int, str], dt.timedelta]:
    """(payer id, urgency) -> the payer's decision window, for `CaseQuerySet.with_schedule_risk`."""
    return {
        (p.pk, urgency): p.decision_window(expedited=urgency == "expedited")
        for p in payers
        for urgency in ("standard", "expedited")
    }


def case_priority_refresh(*, cases=None, today: dt.date | None = None) -> int:
    """Write `priority_key` for these cases (default: all) where it differs from today's order. Returns rows written."""
    written, _ = _refresh(cases, today)
    return written


def _refresh(cases, today) -> tuple[int, dict[int, str]]:
    # Set-based: one read of the open cases with their schedule risk computed by the database (the same
    # expression the queue used to sort on), then one bulk UPDATE of the keys that changed.
    # Models by name: cases.models calls this module from save(), so importing it here would be a circle.
    PriorAuthCase = apps.get_model("cases", "PriorAuthCase")  # noqa: N806
    Payer = apps.get_model("payers", "Payer")  # noqa: N806

    qs = PriorAuthCase.objects.all() if cases is None else cases
    today = today or timezone.localdate()
    written = qs.closed().exclude(priority_key="").update(priority_key="")
    open_cases = qs.open()
    payers = Payer.objects.filter(pk__in=open_cases.exclude(payer=None).values("payer_id"))
    rows = open_cases.with_schedule_risk(today, decision_windows(payers)).values_list(
        "pk", "urgency", "at_risk", "decision_due_at", "created_at", "priority_key"
    )
    keys, changed = {}, []
    for pk, urgency, at_risk, due, created, old in rows.iterator(chunk_size=5000):
        key = priority_key(
            expedited=urgency == "expedited", at_risk=bool(at_risk), decision_due_at=due, created_at=created
        )
        keys[pk] = key
        if key != old:
            changed.append((key, pk))
    if changed:
        # One statement per row, pipelined by the driver: much cheaper than bulk_update's CASE over 80 000 ids.
        table = connections[qs.db].ops.quote_name(PriorAuthCase._meta.db_table)
        with connections[qs.db].cursor() as cursor:
            cursor.executemany(f"UPDATE {table} SET priority_key = %s WHERE id = %s", changed)  # noqa: S608
    return written + len(changed), keys


def case_priority_refresh_one(case) -> str:
    """Refresh one case's key and return it ("" when closed)."""
    _, keys = _refresh(type(case).objects.filter(pk=case.pk), None)
    return keys.get(case.pk, "")
