"""One path for every payer decision, whoever brought it.

A decision arrives as a `PayerDecision` from a status check, from the answer
to a submission, from a payer's notification, or from a coordinator recording
what the payer said by phone, fax or portal. `decision_apply` moves the case
and `outcome_branch` writes what follows (tasks and their due times, the
scheduling release, the peer-to-peer offer, the denial-specificity check),
the same for every source. The EHR write-back and the patient text follow
from the move itself (`case_status_changing` receivers in their own apps).
Nothing here calls an outside system.
"""

from __future__ import annotations

import zoneinfo
from datetime import datetime, time, timedelta
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from cases.models import CaseEvent, PriorAuthCase, Role, Status, Task
from cases.services import case_event_add, task_create
from cases.transitions import AWAITING_PAYER, can_transition, transition
from cases.words import date_words
from integrations.base import DecisionStatus, PayerDecision

TARGET = {
    DecisionStatus.APPROVED: Status.APPROVED,
    DecisionStatus.PARTIALLY_APPROVED: Status.PARTIALLY_APPROVED,
    DecisionStatus.DENIED: Status.DENIED,
    DecisionStatus.PENDED: Status.PENDED,
    DecisionStatus.NOT_REQUIRED: Status.NOT_REQUIRED,
}
# The source a person recording the payer's answer gives; every other source is a channel's.
BY_HAND = "manual"
# Payer texts that say "denied" without saying why.
GENERIC_DENIAL_TEXTS = {"", "denied", "not certified", "not approved", "declined", "rejected"}
# Open tasks a payer's decision makes moot: chasing the answer, sending the request.
MOOT_ON_DECISION = (Task.Kind.RECORD_OUTCOME, Task.Kind.SUBMIT)
INFO_REQUEST_DUE = timedelta(days=3)
SCHEDULE_DUE = timedelta(days=2)


def decision_from_answer(
    *,
    outcome: str,
    authorization_number: str = "",
    effective_start=None,
    effective_end=None,
    units_approved=None,
    denial_reason_code: str = "",
    denial_reason_text: str = "",
    appeal_deadline=None,
    payer_reference: str = "",
    note: str = "",
):
    """The payer's answer as staff typed it, as the `PayerDecision` a channel would have built."""
    status = DecisionStatus(outcome)
    return PayerDecision(
        status=status,
        authorization_number=authorization_number.strip(),
        effective_start=effective_start,
        effective_end=effective_end,
        units_approved=float(units_approved) if units_approved is not None else None,
        reason_code=denial_reason_code.strip(),
        reason_text=denial_reason_text.strip(),
        info_requested=(note.strip(),) if status == DecisionStatus.PENDED and note.strip() else (),
        payer_tracking_id=payer_reference.strip(),
        decided_at=timezone.now(),
        shape="manual",
        appeal_deadline=appeal_deadline,
    )


def target_for(decision: PayerDecision) -> Status | None:
    """The status a decision moves a case to; None for answers that do not move it."""
    return TARGET.get(decision.status)


def decision_apply(
    *, case: PriorAuthCase, decision: PayerDecision, source: str, actor=None, note: str = "", asked_key: str = ""
) -> CaseEvent | None:
    """Apply a payer's answer to `case` exactly once, and never backwards.

    Under the case's row lock: an answer about a request other than the newest
    one the payer acknowledged (`asked_key`, the identifier a channel asked
    about; empty for a person's answer), or not newer than the last one applied
    or than the last update the payer acknowledged (`CaseTracking.last_decision_at`,
    compared with `<=`), is recorded on the timeline when it would have moved
    the case, and not applied. One that would not move the case (the same
    decision again) or one the state machine refuses is a no-op. Everything it causes — the move, the decision
    fields, staff tasks, and through `case_status_changing` the EHR write-back
    and the patient text — commits together or not at all. `source` names who
    brought it ("poll", "submit", "notification", "manual"); `actor` is the
    person who recorded it by hand, `note` their words. Returns the status
    event, or None when nothing changed.
    """
    # The engine keeps the per-case bookkeeping (last decision applied, next check).
    from integrations.registry import channel_for
    from integrations.submission.cadence import poll_next_at
    from integrations.submission.models import CaseTracking

    now = timezone.now()
    with transaction.atomic():
        locked = PriorAuthCase.objects.select_for_update(of=("self",)).select_related("payer").get(pk=case.pk)
        tracking, _ = CaseTracking.objects.select_for_update().get_or_create(case=locked)
        if source != BY_HAND:
            tracking.last_polled_at = now
            tracking.poll_failures = 0
            tracking.last_error = ""
        if locked.status not in AWAITING_PAYER:
            tracking.save()
            return None
        target = target_for(decision)
        stale = _stale(locked, tracking, decision, asked_key)
        if stale:
            tracking.save()
            _next_check(locked, poll_next_at(case=locked, now=now))
            if target is not None and target != locked.status and can_transition(locked, target):
                # Only an answer that would have moved the case is news; a repeated one is not.
                case_event_add(
                    case=locked,
                    kind=CaseEvent.Kind.PAYER,
                    message=f"{locked.payer}'s answer '{decision.status}' not applied: {stale}"[:300],
                    raw=decision.raw_reference,
                    source=source,
                )
            return None
        if target is None or target == locked.status or not can_transition(locked, target):
            tracking.save()
            _next_check(locked, poll_next_at(case=locked, now=now))
            if target is None:
                outcome_non_final(case=locked, decision=decision)
            return None
        left = locked.status
        event = transition(
            locked,
            target,
            actor=actor,
            reason=_reason(locked, decision, source),
            fields=_decision_fields(locked, decision, target, now),
            source=source,
            review_action=decision.review_action_code,
            shape=decision.shape,
            raw=decision.raw_reference,
        )
        tracking.last_decision_at = decision.decided_at or now
        tracking.last_decision = decision.status
        tracking.save()
        moot = list(MOOT_ON_DECISION)
        if left == Status.PENDED and target != Status.PENDED:
            moot.append(Task.Kind.ANSWER_INFO_REQUEST)  # decided without waiting for our answer
        settled = Task.objects.filter(case=locked, kind__in=moot, done_at__isnull=True)
        titles = list(settled.values_list("title", flat=True))
        if titles:
            settled.update(done_at=now, done_by=actor)
            case_event_add(
                case=locked,
                kind=CaseEvent.Kind.TASK,
                actor=actor,
                message=f"Closed, settled by the payer's answer: {'; '.join(titles)}"[:300],
            )
        if note.strip():
            case_event_add(
                case=locked, kind=CaseEvent.Kind.NOTE, actor=actor, message=note.strip()[:300], text=note.strip()
            )
        outcome_branch(case=locked, decision=decision, event=event, actor=actor)
        if target == Status.PENDED:
            # The result comes later: the channel may arrange to be told (e.g. a subscription).
            channel_for(locked).on_awaiting(locked)
    case.refresh_from_db()
    return event


def _stale(case: PriorAuthCase, tracking, decision: PayerDecision, asked_key: str) -> str:
    """Why an answer is out of date ("" when it is not): it is about a request the payer has
    since had an update of, or it is not newer than what the case already knows."""
    if asked_key:
        newest = _newest_key(case)
        if asked_key != newest:
            return f"it is about {asked_key}, and the payer has had {newest} since"
    if decision.decided_at and tracking.last_decision_at and decision.decided_at <= tracking.last_decision_at:
        return "it is not newer than what the case already has from the payer"
    return ""


def _newest_key(case: PriorAuthCase) -> str:
    # The same rule as integrations.submission.services.last_sent_key (which imports this module):
    # the newest request or update the payer acknowledged through the case's channel, else `case-<id>`.
    from integrations.registry import channel_name_for
    from integrations.submission.models import Submission

    row = (
        case.submissions.filter(state=Submission.State.ACCEPTED, channel=channel_name_for(case))
        .exclude(kind=Submission.Kind.CANCEL)
        .order_by("-accepted_at", "-id")
        .first()
    )
    return row.idempotency_key if row else f"case-{case.pk}"


def _next_check(case: PriorAuthCase, when) -> None:
    # Only while still awaiting: a decision applied meanwhile cleared next_poll_at for good.
    PriorAuthCase.objects.filter(pk=case.pk, status__in=AWAITING_PAYER).update(next_poll_at=when)


def _decision_fields(case: PriorAuthCase, decision: PayerDecision, target: Status, now) -> dict:
    from integrations.submission.cadence import poll_next_at

    fields: dict = {}
    if decision.payer_tracking_id:
        fields["payer_tracking_id"] = decision.payer_tracking_id[:80]
    if target in (Status.APPROVED, Status.PARTIALLY_APPROVED):
        fields["authorization_number"] = decision.authorization_number[:50]
        fields["auth_effective_start"] = decision.effective_start
        fields["auth_effective_end"] = decision.effective_end
        if decision.units_approved is not None:
            fields["units_approved"] = Decimal(str(decision.units_approved))
    if target in (Status.DENIED, Status.PARTIALLY_APPROVED):
        fields["denial_reason_code"] = decision.reason_code[:20]
        fields["denial_reason_text"] = decision.reason_text
        fields["appeal_deadline"] = decision.appeal_deadline or (
            timezone.localdate(now) + timedelta(days=case.payer.appeal_window_days)
        )
    if target == Status.PENDED:
        fields["next_poll_at"] = poll_next_at(case=case, now=now)
    return fields


def _reason(case: PriorAuthCase, decision: PayerDecision, source: str) -> str:
    said = {
        DecisionStatus.APPROVED: "approved",
        DecisionStatus.PARTIALLY_APPROVED: "partially approved",
        DecisionStatus.DENIED: "denied",
        DecisionStatus.PENDED: "pended",
        DecisionStatus.NOT_REQUIRED: "no authorization required",
    }[decision.status]
    parts = [f"{case.payer} {said}"]
    if decision.review_action_code:
        parts[0] += f" ({decision.review_action_code})"
    if source == BY_HAND:
        parts[0] += " (recorded by hand)"
    if decision.authorization_number and decision.status in (
        DecisionStatus.APPROVED,
        DecisionStatus.PARTIALLY_APPROVED,
    ):
        parts.append(f"authorization {decision.authorization_number}")
    if decision.effective_start or decision.effective_end:
        parts.append(f"valid {decision.effective_start or '?'} to {decision.effective_end or 'open'}")
    if decision.units_approved is not None:
        parts.append(f"{decision.units_approved:g} units")
    if decision.reason_code:
        parts.append(f"reason {decision.reason_code}")
    text = decision.reason_text or "; ".join(decision.info_requested)
    if text:
        parts.append(f"payer says: {text}")
    return ", ".join(parts)


# --- what a decision sets in motion -----------------------------------------------------------------


def denial_is_unspecific(decision: PayerDecision) -> bool:
    """CMS-0057-F: impacted payers must give a specific reason for every denial (from 2026)."""
    return not decision.reason_code or decision.reason_text.strip().lower().rstrip(".") in GENERIC_DENIAL_TEXTS


def outcome_branch(*, case: PriorAuthCase, decision: PayerDecision, event: CaseEvent, actor=None) -> None:
    """The staff work a decision creates, deduplicated per decision event (a retried poll makes none twice)."""
    status = decision.status
    key = f"decision-{event.pk}"
    if status in (DecisionStatus.APPROVED, DecisionStatus.PARTIALLY_APPROVED):
        valid = ""
        if case.auth_effective_start or case.auth_effective_end:
            start, end = date_words(case.auth_effective_start) or "?", date_words(case.auth_effective_end) or "open"
            valid = f" valid {start} to {end}"
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
            due_at=timezone.now() + SCHEDULE_DUE,
            actor=actor,
            dedupe_key=f"{key}-schedule",
        )
        if status == DecisionStatus.PARTIALLY_APPROVED:
            task_create(
                case=case,
                kind=Task.Kind.WORK_DENIAL,
                title="Partially approved: accept or appeal the rest",
                detail=payer_said(decision),
                role=Role.COORDINATOR,
                due_at=appeal_due(case),
                actor=actor,
                dedupe_key=f"{key}-partial",
            )
    elif status == DecisionStatus.PENDED:
        asked = "\n".join(decision.info_requested) or decision.reason_text or "The payer did not say what it needs."
        documents = case.documents.count()
        due = timezone.now() + INFO_REQUEST_DUE
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
            actor=actor,
            dedupe_key=f"{key}-info",
        )
    elif status == DecisionStatus.DENIED:
        task_create(
            case=case,
            kind=Task.Kind.WORK_DENIAL,
            title=f"Denied: decide on appeal by {date_words(case.appeal_deadline) or 'the payer deadline'}",
            detail=payer_said(decision),
            role=Role.COORDINATOR,
            due_at=appeal_due(case),
            actor=actor,
            dedupe_key=f"{key}-denial",
        )
        clinician = _clinician(case)
        task_create(
            case=case,
            kind=Task.Kind.PEER_TO_PEER,
            title="Consider a peer-to-peer review with the payer",
            detail=payer_said(decision),
            assignee=clinician,
            role="" if clinician else Role.CLINICIAN,
            due_at=appeal_due(case),
            actor=actor,
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
            detail=payer_said(decision),
            role=Role.MANAGER,
            actor=actor,
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
        return  # still pending: nothing to do until the next check
    # One task per distinct answer (the payer's timestamp), however often it is polled.
    stamp = int(decision.decided_at.timestamp()) if decision.decided_at else 0
    task = task_create(
        case=case,
        kind=Task.Kind.RECORD_OUTCOME,
        title=title,
        detail=payer_said(decision),
        role=Role.COORDINATOR,
        dedupe_key=f"payer-{decision.status}-{stamp}",
    )
    if task is not None:
        case_event_add(case=case, kind=CaseEvent.Kind.PAYER, message=f"{title}: {payer_said(decision)}"[:300])


def payer_said(decision: PayerDecision) -> str:
    """The payer's answer in one line for a task: review action, reason code, its own words."""
    parts = []
    if decision.review_action_code:
        parts.append(f"Review action {decision.review_action_code}")
    if decision.reason_code:
        parts.append(f"reason code {decision.reason_code}")
    text = decision.reason_text or "; ".join(decision.info_requested)
    if text:
        parts.append(f"payer's words: {text}")
    return ", ".join(parts) or "The payer gave no details."


def appeal_due(case: PriorAuthCase):
    """The end of the practice's working day on the appeal deadline (17:00 in its zone)."""
    if case.appeal_deadline is None:
        return None
    return datetime.combine(case.appeal_deadline, time(17, 0), tzinfo=zoneinfo.ZoneInfo(case.practice.time_zone))


def _clinician(case: PriorAuthCase):
    provider = case.order.ordering_provider
    return getattr(provider, "user", None)
