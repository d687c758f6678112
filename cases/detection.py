"""Detection: a new order is checked against the payer rules and its case opened."""

from __future__ import annotations

from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from cases.models import CaseEvent, Coverage, Order, PriorAuthCase, RequirementStatus, Role, Status, Task, Urgency
from cases.services import case_event_add, task_create
from cases.transitions import transition
from cases.words import date_words
from payers.rules import RuleConflict, check_order


def coverage_active_for(*, order: Order) -> tuple[Coverage | None, str]:
    """The patient's single active coverage on the service date, or why there is none."""
    day = order.service_date
    active = [c for c in order.patient.coverages.select_related("payer", "plan") if c.is_active_on(day)]
    if not active:
        return None, f"No active coverage on {date_words(day)}."
    if len(active) > 1:
        return None, f"{len(active)} active coverages on {date_words(day)}: choose the primary."
    return active[0], ""


def case_open_for_order(*, order: Order, actor=None, reconcile: bool = True) -> PriorAuthCase:
    """Detection: check the order against the rules and open its case.

    Idempotent per order. Emergency orders are flagged for
    retro-authorization and kept out of automation. Unknown (no rule, a rule
    conflict, no usable coverage) leaves the case NEW with a task for a
    person to check. `reconcile=False` leaves the gaps without tasks and the summary undrafted: only
    the demo seed, which walks each case through its history itself.
    """
    existing = PriorAuthCase.objects.filter(order=order).first()
    if existing:
        return existing
    coverage, coverage_problem = coverage_active_for(order=order)
    urgency = Urgency.EXPEDITED if order.priority == Order.Priority.URGENT else Urgency.STANDARD
    with transaction.atomic():
        try:
            with transaction.atomic():
                case = PriorAuthCase.objects.create(
                    practice=order.practice,
                    order=order,
                    patient=order.patient,
                    payer=coverage.payer if coverage else None,
                    plan=coverage.plan if coverage else None,
                    urgency=urgency,
                )
        except IntegrityError:
            # Another run opened this order's case since the check above (one case per order).
            return PriorAuthCase.objects.get(order=order)
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
        if reconcile and not order.patient.ehr_id:
            # Nothing will be read from the EHR: every requirement is a gap with its task now, and the
            # summary gets its first draft, so nothing waits without someone named. A patient linked to
            # the EHR is reconciled once the packet has been read (integrations/ehr_fhir/tasks.py).
            from cases.readiness import case_reconcile

            case_reconcile(case=case, actor=actor)
    return case
