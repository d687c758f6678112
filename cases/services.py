"""Writes on cases other than status moves. Keyword-only `<entity>_<action>`.

Status moves go through `cases.transitions.transition`; everything here that
changes a case also appends a CaseEvent, so the timeline is complete.
"""

from __future__ import annotations

from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from cases.models import CaseEvent, Coverage, Order, PriorAuthCase, RequirementStatus, Role, Status, Task, Urgency
from cases.transitions import transition
from payers.rules import RuleConflict, check_order


def case_event_add(*, case: PriorAuthCase, kind: str, actor=None, message: str = "", **details) -> CaseEvent:
    """Append a non-status line to the timeline."""
    return CaseEvent.objects.create(case=case, kind=kind, actor=actor, message=message[:300], details=details)


def coverage_active_for(*, order: Order) -> tuple[Coverage | None, str]:
    """The patient's single active coverage on the service date, or why there is none."""
    day = order.service_date
    active = [c for c in order.patient.coverages.select_related("payer", "plan") if c.is_active_on(day)]
    if not active:
        return None, f"No active coverage on {day.isoformat()}."
    if len(active) > 1:
        return None, f"{len(active)} active coverages on {day.isoformat()}: choose the primary."
    return active[0], ""


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


def task_complete(*, task: Task, actor) -> Task:
    with transaction.atomic():
        locked = Task.objects.select_for_update().get(pk=task.pk)
        if locked.done_at is not None:
            return locked
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


def case_open_for_order(*, order: Order, actor=None) -> PriorAuthCase:
    """Detection: check the order against the rules and open its case.

    Idempotent per order. Emergency orders are flagged for
    retro-authorization and kept out of automation. Unknown (no rule, a rule
    conflict, no usable coverage) leaves the case NEW with a task for a
    person to check.
    """
    existing = PriorAuthCase.objects.filter(order=order).first()
    if existing:
        return existing
    coverage, coverage_problem = coverage_active_for(order=order)
    urgency = Urgency.EXPEDITED if order.priority == Order.Priority.URGENT else Urgency.STANDARD
    with transaction.atomic():
        case = PriorAuthCase.objects.create(
            practice=order.practice,
            order=order,
            patient=order.patient,
            payer=coverage.payer if coverage else None,
            plan=coverage.plan if coverage else None,
            urgency=urgency,
        )
        if coverage and order.coverage_id != coverage.pk:
            order.coverage = coverage
            order.save(update_fields=["coverage"])
        case_event_add(case=case, kind=CaseEvent.Kind.SYSTEM, actor=actor, message="Order received")

        if order.priority == Order.Priority.EMERGENCY:
            transition(case, Status.RETRO_AUTH, actor=None, reason="Emergency order: authorize after the service")
            task_create(
                case=case,
                kind=Task.Kind.RETRO_AUTH,
                title="Request retro-authorization",
                role=Role.COORDINATOR,
                due_at=timezone.now() + timedelta(days=2),
                dedupe_key="retro_auth",
            )
            return case
        if coverage is None:
            task_create(
                case=case,
                kind=Task.Kind.CLOSE_GAP,
                title="Confirm the patient's coverage",
                detail=coverage_problem,
                role=Role.COORDINATOR,
                dedupe_key="coverage",
            )
            return case
        try:
            decision = check_order(
                payer=coverage.payer,
                plan=coverage.plan,
                code_system=order.code_system,
                code=order.code,
                on=order.service_date,
                site=order.site_of_service,
                diagnoses=order.diagnosis_codes,
            )
        except RuleConflict as exc:
            task_create(
                case=case,
                kind=Task.Kind.REVIEW_RULE,
                title="Check whether PA is required",
                detail=str(exc),
                role=Role.COORDINATOR,
                dedupe_key="review_rule",
            )
            return case

        if decision.decision == "unknown":
            task_create(
                case=case,
                kind=Task.Kind.REVIEW_RULE,
                title="Check whether PA is required",
                detail=decision.reason,
                role=Role.COORDINATOR,
                dedupe_key="review_rule",
            )
            return case
        fields = {"rule": decision.rule, "channel": decision.channel or ""}
        if decision.decision == "not_required":
            transition(case, Status.NOT_REQUIRED, reason=decision.reason, fields=fields, rule_id=decision.rule_id)
            return case
        transition(case, Status.GATHERING, reason=decision.reason, fields=fields, rule_id=decision.rule_id)
        for requirement in decision.rule.requirements.all():
            RequirementStatus.objects.create(case=case, requirement=requirement)
    return case
