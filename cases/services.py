"""The basic writes on a case every other module builds on. Keyword-only `<entity>_<action>`.

Status moves go through `cases.transitions.transition`; everything here that
changes a case also appends a CaseEvent, so the timeline is complete. The
rest of the writes live by concern: `cases.detection` (opening a case for an
order), `cases.documents` (stored files), `cases.actions` (what staff do on
the case page), `cases.decisions` (a payer's answer).
"""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.db.models import Count, Q
from django.utils import timezone

from cases.models import CASE_WORKER_ROLES, CaseEvent, PriorAuthCase, Task, User
from cases.transitions import OPEN_STATUSES


class ActionRefused(Exception):
    """An action that does not fit the case's current state; the message is for staff."""


def case_event_add(*, case: PriorAuthCase, kind: str, actor=None, message: str = "", **details) -> CaseEvent:
    """Append a non-status line to the timeline."""
    return CaseEvent.objects.create(case=case, kind=kind, actor=actor, message=message[:300], details=details)


def task_create(
    *,
    case: PriorAuthCase,
    kind: str,
    title: str,
    detail: str = "",
    assignee=None,
    role: str = "",
    due_at=None,
    actor=None,
    dedupe_key: str = "",
) -> Task | None:
    """Create a task and put it on the timeline. With `dedupe_key`, at most one per case."""
    try:
        with transaction.atomic():
            task = Task.objects.create(
                case=case,
                kind=kind,
                title=title,
                detail=detail,
                assignee=assignee,
                role=role,
                due_at=due_at,
                dedupe_key=dedupe_key,
            )
    except IntegrityError:
        if dedupe_key:
            return None  # that automatic task already exists
        raise
    case_event_add(case=case, kind=CaseEvent.Kind.TASK, actor=actor, message=f"Task: {title}", task_id=task.pk)
    return task


def task_mark_done(*, task: Task, actor) -> Task:
    """Close one task with its timeline line and nothing else (the demo's history; staff use
    `cases.actions.task_complete`, which also routes a clinician's answer)."""
    with transaction.atomic():
        locked = Task.objects.select_for_update().get(pk=task.pk)
        if locked.done_at is None:
            locked.done_at = timezone.now()
            locked.done_by = actor
            locked.save(update_fields=["done_at", "done_by"])
            case_event_add(
                case=locked.case,
                kind=CaseEvent.Kind.TASK,
                actor=actor,
                message=f"Done: {locked.title}",
                task_id=locked.pk,
            )
    return locked


def case_assign(*, case: PriorAuthCase, user, actor) -> PriorAuthCase:
    """Assign (or with user=None unassign) a case."""
    if user is not None and user.practice_id != case.practice_id:
        raise ValueError("Cannot assign a case to a user of another practice.")
    with transaction.atomic():
        locked = PriorAuthCase.objects.select_for_update(of=("self",)).get(pk=case.pk)
        previous = locked.assignee_id
        locked.assignee = user
        locked.save(update_fields=["assignee"])
        case_event_add(
            case=locked,
            kind=CaseEvent.Kind.ASSIGNED,
            actor=actor,
            message=f"Assigned to {user.display()}" if user else "Unassigned",
            from_user_id=previous,
            to_user_id=getattr(user, "pk", None),
        )
    case.assignee = user
    return case


def case_add_note(*, case: PriorAuthCase, actor, text: str) -> CaseEvent:
    text = text.strip()
    if not text:
        raise ValueError("A note cannot be empty.")
    # The note body lives in details; `message` is what a list shows.
    return case_event_add(case=case, kind=CaseEvent.Kind.NOTE, actor=actor, message=text[:300], text=text)


def tasks_close(*, case: PriorAuthCase, actor, kinds=None) -> int:
    """Mark the case's open tasks (of `kinds`, or all) done by `actor`. Returns how many."""
    tasks = Task.objects.filter(case=case, done_at__isnull=True)
    if kinds is not None:
        tasks = tasks.filter(kind__in=list(kinds))
    return tasks.update(done_at=timezone.now(), done_by=actor)


def cases_assign_bulk(*, cases, actor, user=None, role: str = "") -> int:
    """Assign many cases to one person (or with user=None unassign them), or spread them over a role's people.

    The one bulk assignment: the queue's "assign selected" and the sweep's
    "assign this bucket" both come here. Each case goes through `case_assign`,
    so each is locked and on its timeline. With `role`, each case goes to
    whoever of that role in the actor's practice has the fewest open cases at
    that moment (ties: lowest id). Returns how many cases changed hands.
    """
    if role and role not in CASE_WORKER_ROLES:
        raise ActionRefused("Cases can only be spread over the roles that work them (coordinators, managers).")
    cases = list(cases)
    # Refuse before the first write, not halfway through the list.
    if user is not None and any(case.practice_id != user.practice_id for case in cases):
        raise ValueError("Cannot assign a case to a user of another practice.")
    changed = 0
    if role:
        holders = list(
            User.objects.filter(practice_id=actor.practice_id, groups__name=role, is_active=True)
            .annotate(load=Count("assigned_cases", filter=Q(assigned_cases__status__in=list(OPEN_STATUSES))))
            .order_by("load", "pk")
        )
        if not holders:
            raise ActionRefused("Nobody holds that role.")
        loads = {h.pk: h.load for h in holders}
        for case in cases:
            target = min(holders, key=lambda h: (loads[h.pk], h.pk))
            if case.assignee_id != target.pk:
                case_assign(case=case, user=target, actor=actor)
                loads[target.pk] += 1
                changed += 1
        return changed
    for case in cases:
        if case.assignee_id != getattr(user, "pk", None):
            case_assign(case=case, user=user, actor=actor)
            changed += 1
    return changed


def case_record_units_used(*, case: PriorAuthCase, actor, units_used) -> PriorAuthCase:
    """Record how many of the authorized units have been used (visits, sessions); on the timeline."""
    from cases.transitions import APPROVED_STATUSES

    if case.status not in APPROVED_STATUSES:
        raise ActionRefused("Units are recorded against an approved authorization only.")
    if units_used < 0:
        raise ActionRefused("Units used cannot be negative.")
    if case.units_approved is not None and units_used > case.units_approved:
        raise ActionRefused(f"Only {case.units_approved.normalize():f} units are authorized.")
    with transaction.atomic():
        locked = PriorAuthCase.objects.select_for_update(of=("self",)).get(pk=case.pk)
        previous = locked.units_used
        locked.units_used = units_used
        locked.save(update_fields=["units_used"])
        case_event_add(
            case=locked,
            kind=CaseEvent.Kind.NOTE,
            actor=actor,
            message=f"Units used: {units_used.normalize():f} (was {previous.normalize():f})",
        )
    case.units_used = units_used
    return case
