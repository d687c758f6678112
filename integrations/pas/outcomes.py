"""What a payer's decision sets in motion, inside the transaction that applied it.

Staff tasks are rows written here (deduplicated per decision event, so a
retried poll cannot make two). The EHR write-back and the patient text are
outbox rows written by their own apps' `case_status_changing` receivers in
the same transaction (integrations.ehr_fhir, integrations.sms_twilio) and
sent by their tasks: nothing here calls an outside system.
"""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from cases.models import CaseEvent, PriorAuthCase, Role, Task
from cases.services import case_event_add, task_create
from integrations.base import DecisionStatus, PayerDecision

# Payer texts that say "denied" without saying why.
GENERIC_DENIAL_TEXTS = {"", "denied", "not certified", "not approved", "declined", "rejected"}


def denial_is_unspecific(decision: PayerDecision) -> bool:
    """CMS-0057-F: impacted payers must give a specific reason for every denial (from 2026)."""
    return not decision.reason_code or decision.reason_text.strip().lower().rstrip(".") in GENERIC_DENIAL_TEXTS


def _clinician(case: PriorAuthCase):
    provider = case.order.ordering_provider
    return getattr(provider, "user", None)


def outcome_branch(*, case: PriorAuthCase, decision: PayerDecision, event: CaseEvent) -> None:
    status = decision.status
    key = f"decision-{event.pk}"
    if status in (DecisionStatus.APPROVED, DecisionStatus.PARTIALLY_APPROVED):
        valid = ""
        if case.auth_effective_start or case.auth_effective_end:
            valid = f" valid {case.auth_effective_start or '?'} to {case.auth_effective_end or 'open'}"
        case_event_add(
            case=case,
            kind=CaseEvent.Kind.SYSTEM,
            message=f"Order released to scheduling (authorization {case.authorization_number or 'on file'}{valid})",
        )
        task_create(
            case=case,
            kind=Task.Kind.RESCHEDULE,
            title=f"Schedule the service: authorization {case.authorization_number or 'on file'}{valid}",
            role=Role.FRONT_DESK,
            due_at=timezone.now() + timedelta(days=2),
            dedupe_key=f"{key}-schedule",
        )
        if status == DecisionStatus.PARTIALLY_APPROVED:
            task_create(
                case=case,
                kind=Task.Kind.WORK_DENIAL,
                title="Partially approved: accept or appeal the rest",
                detail=_payer_said(decision),
                role=Role.COORDINATOR,
                due_at=_appeal_due(case),
                dedupe_key=f"{key}-partial",
            )
    elif status == DecisionStatus.PENDED:
        asked = "\n".join(decision.info_requested) or decision.reason_text or "The payer did not say what it needs."
        documents = case.documents.count()
        due = timezone.now() + timedelta(days=3)
        if case.decision_due_at:
            due = min(due, case.decision_due_at)
        clinician = _clinician(case)
        task_create(
            case=case,
            kind=Task.Kind.ANSWER_INFO_REQUEST,
            title="Payer asks for more information",
            detail=f"The payer's request, as sent:\n{asked}\n\nOriginal packet: {documents} document(s)"
            f"{', medical-necessity summary' if case.summary_text else ''} (see the case page).",
            assignee=clinician,
            role="" if clinician else Role.CLINICIAN,
            due_at=due,
            dedupe_key=f"{key}-info",
        )
    elif status == DecisionStatus.DENIED:
        task_create(
            case=case,
            kind=Task.Kind.WORK_DENIAL,
            title=f"Denied: decide on appeal by {case.appeal_deadline}",
            detail=_payer_said(decision),
            role=Role.COORDINATOR,
            due_at=_appeal_due(case),
            dedupe_key=f"{key}-denial",
        )
        clinician = _clinician(case)
        task_create(
            case=case,
            kind=Task.Kind.PEER_TO_PEER,
            title="Consider a peer-to-peer review with the payer",
            detail=_payer_said(decision),
            assignee=clinician,
            role="" if clinician else Role.CLINICIAN,
            due_at=_appeal_due(case),
            dedupe_key=f"{key}-p2p",
        )
    if status in (DecisionStatus.DENIED, DecisionStatus.PARTIALLY_APPROVED) and denial_is_unspecific(decision):
        impacted = " (required of CMS-0057-F impacted payers)" if case.payer.cms_impacted else ""
        case_event_add(
            case=case,
            kind=CaseEvent.Kind.ESCALATION,
            message=f"Denial without a specific reason{impacted}",
            flag="unspecific_denial",
        )
        task_create(
            case=case,
            kind=Task.Kind.ESCALATION,
            title="Ask the payer for the specific denial reason",
            detail=_payer_said(decision),
            role=Role.MANAGER,
            dedupe_key=f"{key}-unspecific",
        )


def outcome_non_final(*, case: PriorAuthCase, decision: PayerDecision) -> None:
    """Answers that do not move the case but need a person: contact payer, cancelled, rejected."""
    titles = {
        DecisionStatus.CONTACT_PAYER: "Payer asks you to call (X12 CT)",
        DecisionStatus.CANCELLED: "Payer cancelled the request",
        DecisionStatus.ERROR: "Payer rejected the request",
    }
    title = titles.get(decision.status)
    if title is None:
        return  # still pending: nothing to do until the next poll
    # One task per distinct answer (the payer's timestamp), however often it is polled.
    stamp = int(decision.decided_at.timestamp()) if decision.decided_at else 0
    task = task_create(
        case=case,
        kind=Task.Kind.RECORD_OUTCOME,
        title=title,
        detail=_payer_said(decision),
        role=Role.COORDINATOR,
        dedupe_key=f"payer-{decision.status}-{stamp}",
    )
    if task is not None:
        case_event_add(case=case, kind=CaseEvent.Kind.PAYER, message=f"{title}: {_payer_said(decision)}"[:300])


def _payer_said(decision: PayerDecision) -> str:
    parts = []
    if decision.review_action_code:
        parts.append(f"Review action {decision.review_action_code}")
    if decision.reason_code:
        parts.append(f"reason code {decision.reason_code}")
    text = decision.reason_text or "; ".join(decision.info_requested)
    if text:
        parts.append(f"payer's words: {text}")
    return ", ".join(parts) or "The payer gave no details."


def _appeal_due(case: PriorAuthCase):
    if case.appeal_deadline is None:
        return None
    from datetime import datetime

    return timezone.make_aware(datetime.combine(case.appeal_deadline, datetime.min.time()))
