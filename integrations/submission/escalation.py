"""Stalled cases and CMS-0057-F decision deadlines, whatever the channel: a manager task once per
stall / deadline."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from cases.models import CaseEvent, PriorAuthCase, Role, Task
from cases.services import case_event_add, task_create
from cases.transitions import AWAITING_PAYER as AWAITING
from payers.models import Payer

DEADLINE_NEAR = timedelta(hours=24)


def escalate_stalls(*, now=None) -> int:
    """Escalate every awaiting case without movement past its payer's stall threshold.

    "Once per stall": the task's dedupe key carries the instant the case last
    moved, so the same stall is never escalated twice and a case that moves
    and stalls again is escalated again.
    """
    now = now or timezone.now()
    made = 0
    for payer in Payer.objects.filter(cases__status__in=AWAITING).distinct():
        cutoff = now - timedelta(hours=payer.stall_threshold_hours)
        stalled = PriorAuthCase.objects.filter(payer=payer, status__in=AWAITING, status_changed_at__lt=cutoff)
        # The stalls already escalated, read once: skipping them here saves a failing insert per case per
        # run (the simulated practice showed that cost growing with every long wait). The dedupe key still
        # guards a race between two runs.
        done = _escalated(stalled, "stall-")
        for case in stalled.only("pk", "status_changed_at", "practice_id"):
            if (case.pk, f"stall-{int(case.status_changed_at.timestamp())}") in done:
                continue
            hours = int((now - case.status_changed_at).total_seconds() // 3600)
            task = task_create(
                case=case,
                kind=Task.Kind.ESCALATION,
                title=f"Stalled: no word from {payer} for {hours} h",
                detail=f"No movement since {timezone.localtime(case.status_changed_at):%b %d %H:%M}; "
                f"{payer}'s stall threshold is {payer.stall_threshold_hours} h. Call the payer.",
                role=Role.MANAGER,
                due_at=now + timedelta(hours=4),
                dedupe_key=f"stall-{int(case.status_changed_at.timestamp())}",
            )
            if task is not None:
                made += 1
                case_event_add(case=case, kind=CaseEvent.Kind.ESCALATION, message=f"Escalated: stalled {hours} h")
    return made


def escalate_deadlines(*, now=None) -> int:
    """A manager task when the payer's decision deadline is within a day, and again once it has passed."""
    now = now or timezone.now()
    made = 0
    due = PriorAuthCase.objects.filter(status__in=AWAITING, decision_due_at__lte=now + DEADLINE_NEAR).select_related(
        "payer"
    )
    done = _escalated(due, "deadline-")
    for case in due:
        passed = case.decision_due_at <= now
        which = "passed" if passed else "near"
        if (case.pk, f"deadline-{which}-{int(case.decision_due_at.timestamp())}") in done:
            continue
        rule = "CMS-0057-F" if case.payer and case.payer.cms_impacted else "the payer's stated"
        when = timezone.localtime(case.decision_due_at)
        task = task_create(
            case=case,
            kind=Task.Kind.ESCALATION,
            title=f"Decision deadline {'passed' if passed else 'near'}: {when:%b %d %H:%M}",
            detail=f"{case.payer} must decide by {when:%b %d %H:%M} under {rule} timeframe"
            + (". Call the payer and record the call." if passed else "."),
            role=Role.MANAGER,
            due_at=now + timedelta(hours=2),
            dedupe_key=f"deadline-{which}-{int(case.decision_due_at.timestamp())}",
        )
        if task is not None:
            made += 1
            case_event_add(case=case, kind=CaseEvent.Kind.ESCALATION, message=f"Escalated: decision deadline {which}")
    return made


def _escalated(cases, prefix: str) -> set[tuple[int, str]]:
    """(case id, dedupe key) of the escalation tasks these cases already have under `prefix`."""
    return set(
        Task.objects.filter(
            case__in=cases.values("pk"), kind=Task.Kind.ESCALATION, dedupe_key__startswith=prefix
        ).values_list("case_id", "dedupe_key")
    )
