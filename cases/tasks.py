"""Background entry points of the cases app (django-q2). They take ids, load rows, call a service."""

from __future__ import annotations

import logging

from django.db import transaction

from cases.models import Practice
from cases.sweep.models import Sweep

log = logging.getLogger(__name__)


def run_due_sweeps() -> int:
    """Every minute: run each practice's scheduled sweep once, when its local sweep time has come.

    One minute-interval schedule instead of one cron per practice: practices
    have their own time zones (and DST), which a server-time cron cannot
    follow. `sweep_due` claims the day, so extra ticks do nothing.
    """
    from cases.sweep.services import sweep_due

    ran = 0
    for practice in Practice.objects.order_by("pk"):
        sweep = sweep_due(practice=practice)
        if sweep is not None:
            ran += 1
            transaction.on_commit(lambda sweep_id=sweep.pk: _enqueue_digest(sweep_id))
    return ran


def _enqueue_digest(sweep_id: int) -> None:
    from django_q.tasks import async_task

    sweep = Sweep.objects.select_related("practice__sweep_settings").get(pk=sweep_id)
    settings = getattr(sweep.practice, "sweep_settings", None)
    if settings and settings.digest_roles:
        async_task("cases.tasks.send_sweep_digest", sweep_id)


def send_sweep_digest(sweep_id: int) -> int:
    from cases.sweep.digest import digest_send

    return digest_send(sweep=Sweep.objects.select_related("practice").get(pk=sweep_id))


def watch_authorizations() -> dict[str, int]:
    """Hourly: approvals ending soon get a task; approvals that ended unused expire (cases/expiry.py)."""
    from cases.expiry import authorizations_watch

    totals = {"warned": 0, "expired": 0}
    for practice in Practice.objects.order_by("pk"):
        for key, n in authorizations_watch(practice=practice).items():
            totals[key] += n
    return totals


def refresh_queue_priority() -> int:
    """Hourly: rewrite the queue keys that the clock moved (schedule risk turns on a new day). See cases/priority.py."""
    from cases.priority import case_priority_refresh

    return case_priority_refresh()
