"""Writes on cases other than status moves. Keyword-only `<entity>_<action>`.

Status moves go through `cases.transitions.transition`; everything here that
changes a case also appends a CaseEvent, so the timeline is complete.
"""

from __future__ import annotations

import zoneinfo
from datetime import datetime, time, timedelta

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.template.defaultfilters import filesizeformat
from django.utils import timezone

from cases.models import (
    CaseEvent,
    Coverage,
    Document,
    Order,
    PriorAuthCase,
    RequirementStatus,
    Role,
    Status,
    Task,
    Urgency,
)
from cases.transitions import AWAITING_PAYER, transition
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
        if locked.kind == Task.Kind.CLINICIAN_INPUT:
            # The clinician answered: the case may have nothing else waiting.
            case_advance_if_ready(case=locked.case, actor=actor)
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
    return case


# ---------------------------------------------------------------------------
# Staff actions on the case page. Each checks the case's state (permissions by
# role are checked by the view, see cases/permissions.py), writes through
# `transition` or a CaseEvent, and raises ActionRefused with a sentence staff
# can read when the action does not fit the case as it stands now.


class ActionRefused(Exception):
    """An action that does not fit the case's current state; the message is for staff."""


SUBMIT_TASK_KEY = "submit"
_CLOSING_STATES = (RequirementStatus.State.MET, RequirementStatus.State.WAIVED)


def _open_tasks_close(*, case: PriorAuthCase, actor, kinds=None) -> int:
    """Mark the case's open tasks (of `kinds`, or all) done by `actor`. Returns how many."""
    tasks = Task.objects.filter(case=case, done_at__isnull=True)
    if kinds is not None:
        tasks = tasks.filter(kind__in=list(kinds))
    return tasks.update(done_at=timezone.now(), done_by=actor)


def case_blockers(*, case: PriorAuthCase) -> list[str]:
    """Why the case is not ready to submit (empty list = ready)."""
    blockers = []
    gaps = case.requirement_statuses.filter(state=RequirementStatus.State.GAP).count()
    if gaps:
        blockers.append(f"{gaps} documentation gap(s) open")
    if case.tasks.filter(kind=Task.Kind.CLINICIAN_INPUT, done_at__isnull=True).exists():
        blockers.append("clinician input requested")
    # Nothing drafted is submitted without a named person's attestation of the exact text.
    if case.summary_text and not case.summary_is_attested:
        blockers.append("summary not attested")
    return blockers


def case_advance_if_ready(*, case: PriorAuthCase, actor=None) -> bool:
    """Move a gathering / needs-clinician case to ready once nothing blocks it."""
    case.refresh_from_db()
    if case.status not in (Status.GATHERING, Status.NEEDS_CLINICIAN) or case_blockers(case=case):
        return False
    transition(case, Status.READY, actor=actor, reason="Packet complete")
    return True


def case_resolve_gap(*, case: PriorAuthCase, requirement_status: RequirementStatus, actor, note: str = "") -> None:
    """A person marks one documentation gap resolved (e.g. checked the chart by hand)."""
    if requirement_status.case_id != case.pk:
        raise ActionRefused("That requirement belongs to another case.")
    if requirement_status.state != RequirementStatus.State.GAP:
        raise ActionRefused("That requirement is not an open gap.")
    with transaction.atomic():
        requirement_status.state = RequirementStatus.State.WAIVED
        requirement_status.resolved_by = actor
        requirement_status.note = (note.strip() or "Resolved by staff")[:300]
        requirement_status.save(update_fields=["state", "resolved_by", "note", "updated_at"])
        case_event_add(
            case=case,
            kind=CaseEvent.Kind.DOCUMENT,
            actor=actor,
            message=f"Gap resolved: {requirement_status.requirement.description}",
            requirement_id=requirement_status.requirement_id,
        )
        if not case.requirement_statuses.filter(state=RequirementStatus.State.GAP).exists():
            _open_tasks_close(case=case, actor=actor, kinds=[Task.Kind.CLOSE_GAP])
        case_advance_if_ready(case=case, actor=actor)


def case_request_clinician_input(*, case: PriorAuthCase, actor, question: str, due_at=None) -> Task:
    """Ask the ordering clinician (or any clinician) a question; the case waits for them."""
    question = question.strip()
    if not question:
        raise ActionRefused("Write what the clinician should answer.")
    if not case.is_open:
        raise ActionRefused("The case is closed.")
    provider_user = getattr(case.order.ordering_provider, "user", None)
    with transaction.atomic():
        task = task_create(
            case=case,
            kind=Task.Kind.CLINICIAN_INPUT,
            title="Clinical input requested",
            detail=question,
            assignee=provider_user,
            role="" if provider_user else Role.CLINICIAN,
            due_at=due_at or timezone.now() + timedelta(days=2),
            actor=actor,
        )
        if case.status in (Status.GATHERING, Status.READY):
            transition(case, Status.NEEDS_CLINICIAN, actor=actor, reason="Clinical input requested")
    return task


def case_attest_summary(*, case: PriorAuthCase, actor) -> PriorAuthCase:
    """The clinician attests the exact summary text now on the case."""
    with transaction.atomic():
        locked = PriorAuthCase.objects.select_for_update(of=("self",)).get(pk=case.pk)
        if not locked.summary_text.strip():
            raise ActionRefused("There is no summary to attest.")
        if locked.summary_is_attested:
            raise ActionRefused("The summary is already attested.")
        locked.summary_attested_by = actor
        locked.summary_attested_at = timezone.now()
        locked.summary_attested_text = locked.summary_text
        locked.save(update_fields=["summary_attested_by", "summary_attested_at", "summary_attested_text"])
        case_event_add(case=locked, kind=CaseEvent.Kind.NOTE, actor=actor, message="Medical-necessity summary attested")
        case_advance_if_ready(case=locked, actor=actor)
    case.refresh_from_db()
    return case


def case_approve_submission(*, case: PriorAuthCase, actor) -> PriorAuthCase:
    """A manager approves the case for submission (practice.submission_requires_approval)."""
    with transaction.atomic():
        locked = PriorAuthCase.objects.select_for_update(of=("self",)).get(pk=case.pk)
        if locked.status != Status.READY:
            raise ActionRefused("Only a case that is ready to submit can be approved.")
        if locked.submission_approved_at:
            raise ActionRefused("The submission is already approved.")
        locked.submission_approved_by = actor
        locked.submission_approved_at = timezone.now()
        locked.save(update_fields=["submission_approved_by", "submission_approved_at"])
        case_event_add(case=locked, kind=CaseEvent.Kind.APPROVAL, actor=actor, message="Submission approved")
        _open_tasks_close(case=locked, actor=actor, kinds=[Task.Kind.APPROVE_SUBMISSION])
    case.refresh_from_db()
    return case


def case_submit(*, case: PriorAuthCase, actor):
    """Send a ready case to its payer.

    For a channel that is automated (integrations.registry: Da Vinci PAS) this
    writes a `Submission` row under the case's row lock and enqueues the send
    after commit; a double click or two staff at once get the same row back
    (returns the Submission). The case moves to `submitted` when the payer's
    receipt arrives. For fax / portal / X12 until automated, it records the
    intent as a SUBMIT task for a coordinator (returns the Task).
    """
    case.refresh_from_db()
    if case.status != Status.READY:
        raise ActionRefused("Only a case that is ready can be submitted.")
    if case.practice.submission_requires_approval and not case.submission_approved_at:
        raise ActionRefused("A manager must approve this submission first.")
    blockers = case_blockers(case=case)
    if blockers:
        raise ActionRefused("Not ready: " + "; ".join(blockers) + ".")
    from integrations.registry import channel_name_for, has_channel

    channel = channel_name_for(case)
    if has_channel(channel):
        from integrations.pas.services import SubmissionRefused, submission_request

        try:
            return submission_request(case=case, actor=actor)
        except SubmissionRefused as exc:
            raise ActionRefused(str(exc)) from exc
    fax = case.payer.fax if channel == "fax" and case.payer_id else ""
    send = f"Fax it to {fax}" if fax else f"Send it ({channel or 'channel not set'})"
    with transaction.atomic():
        task = task_create(
            case=case,
            kind=Task.Kind.SUBMIT,
            title=f"Submit to {case.payer or 'the payer'} ({channel or 'channel not set'})",
            detail="The submission packet (fax cover, request, medical necessity and the documents) is on the "
            f"case page: Download submission packet (PDF). {send}, then record the payer's answer there "
            "(outcome 'submitted' keeps the packet as sent).",
            assignee=case.assignee,
            role="" if case.assignee_id else Role.COORDINATOR,
            due_at=timezone.now() + timedelta(days=1),
            actor=actor,
            dedupe_key=SUBMIT_TASK_KEY,
        )
        if task is None:
            raise ActionRefused("A submission is already queued for this case.")
        case_event_add(
            case=case, kind=CaseEvent.Kind.SUBMISSION, actor=actor, message="Submission requested", channel=channel
        )
    return task


def case_send_update(*, case: PriorAuthCase, actor, message: str = ""):
    """Answer a payer that pended the case: send what staff added since it asked.

    Staff first attach documents (or write `message`, their words to the
    payer). For an automated channel (Da Vinci PAS) this writes an update
    `Submission` and sends a PAS Claim Update after commit; the case moves
    pended → submitted when the payer acknowledges it. For fax / portal / X12
    it records a SUBMIT task for a coordinator to send the information by hand
    and then record the payer's answer. The payer's information-request tasks
    are closed: staff have answered.

    Under the case's row lock: a double click, or two staff at once, get the
    first update back and write nothing twice.
    """
    message = message.strip()
    from integrations.registry import channel_name_for, has_channel

    with transaction.atomic():
        locked = PriorAuthCase.objects.select_for_update(of=("self",)).select_related("payer").get(pk=case.pk)
        if locked.status != Status.PENDED:
            raise ActionRefused("Only a case the payer pended can be answered with more information.")
        if locked.summary_text and not locked.summary_is_attested:
            raise ActionRefused("Not ready: summary not attested.")
        channel = channel_name_for(locked)
        automated = has_channel(channel)
        if automated:
            from integrations.pas.services import IN_FLIGHT

            in_flight = locked.submissions.filter(kind="update", state__in=IN_FLIGHT).first()
            if in_flight is not None:
                return in_flight
        # What the payer asked for came after the pend: something must be new since then.
        added = locked.documents.filter(created_at__gt=locked.status_changed_at).count()
        if not added and not message:
            raise ActionRefused("Attach a document or write the information for the payer first.")
        if message:
            case_event_add(
                case=locked,
                kind=CaseEvent.Kind.NOTE,
                actor=actor,
                message=f"Information for the payer: {message}"[:300],
                text=message,
            )
        if automated:
            from integrations.pas.services import SubmissionRefused, submission_request

            try:
                result = submission_request(case=locked, actor=actor, message=message)
            except SubmissionRefused as exc:
                raise ActionRefused(str(exc)) from exc
        else:
            result = task_create(
                case=locked,
                kind=Task.Kind.SUBMIT,
                title=f"Send the additional information to {locked.payer or 'the payer'} "
                f"({channel or 'channel not set'})",
                detail=(f"What to tell the payer: {message}\n" if message else "")
                + f"{added} document(s) added since the payer's request. Send them, then record the payer's "
                "answer on the case page (outcome 'submitted' once the payer has them).",
                assignee=locked.assignee,
                role="" if locked.assignee_id else Role.COORDINATOR,
                due_at=timezone.now() + timedelta(days=1),
                actor=actor,
                dedupe_key=f"send-update-{int(locked.status_changed_at.timestamp())}",
            )
            if result is None:
                raise ActionRefused("The additional information is already queued to be sent by hand.")
            case_event_add(
                case=locked,
                kind=CaseEvent.Kind.SUBMISSION,
                actor=actor,
                message="Additional information to be sent by hand",
                channel=channel,
            )
        _open_tasks_close(case=locked, actor=actor, kinds=[Task.Kind.ANSWER_INFO_REQUEST])
    return result


OUTCOMES = {
    "submitted": Status.SUBMITTED,
    "approved": Status.APPROVED,
    "partially_approved": Status.PARTIALLY_APPROVED,
    "pended": Status.PENDED,
    "denied": Status.DENIED,
}


def case_record_outcome(*, case: PriorAuthCase, actor, outcome: str, **answer) -> CaseEvent:
    """Record what a payer answered on its portal, by fax or by phone.

    `outcome` is submitted (accepted, awaiting a decision), approved,
    partially_approved, pended (with the payer's request in `note`) or denied;
    `answer` holds its details (see `_outcome_record`). A ready case whose
    submission was done by hand first moves to submitted.

    On a channel that is not automated, the first answer to a ready case (it
    was sent by hand) and outcome submitted on a pended one (the information
    was sent by hand) keep the submission packet as it stands as a generated
    document: what the payer has. It is built before this outcome changes the
    case (a new payer reference would change its cover) and outside the
    transaction (no row lock while PDFs are read). If it cannot be built or
    stored, the outcome is recorded all the same and the timeline says so.
    """
    from cases.packet_pdf import packet_build_for_record, packet_keep_as_sent
    from integrations.registry import channel_name_for, has_channel

    to = _outcome_check(outcome=outcome, **answer)  # refuse before building anything
    case.refresh_from_db()
    sent_by_hand = (
        case.status == Status.READY or (case.status == Status.PENDED and to == Status.SUBMITTED)
    ) and not has_channel(channel_name_for(case))
    packet, error = packet_build_for_record(case) if sent_by_hand else (None, "")
    event = _outcome_record(case=case, actor=actor, outcome=outcome, **answer)
    if sent_by_hand:
        packet_keep_as_sent(case=case, actor=actor, packet=packet, error=error)
    return event


def _outcome_check(
    *,
    outcome: str,
    authorization_number: str = "",
    effective_start=None,
    effective_end=None,
    denial_reason_code: str = "",
    denial_reason_text: str = "",
    note: str = "",
    **_other,
) -> Status:
    """The status an answer leads to; ActionRefused when it lacks what that needs."""
    if outcome not in OUTCOMES:
        raise ActionRefused("Choose an outcome.")
    to = OUTCOMES[outcome]
    if to in (Status.APPROVED, Status.PARTIALLY_APPROVED) and not (authorization_number and effective_start):
        raise ActionRefused("An approval needs the authorization number and its start date.")
    if effective_start and effective_end and effective_end < effective_start:
        raise ActionRefused("The authorization ends before it starts.")
    if to == Status.DENIED and not (denial_reason_text or denial_reason_code):
        raise ActionRefused("A denial needs the payer's reason.")
    if to == Status.PENDED and not note.strip():
        raise ActionRefused("Write down what the payer asked for.")
    return to


def _outcome_record(
    *,
    case: PriorAuthCase,
    actor,
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
) -> CaseEvent:
    to = OUTCOMES[outcome]  # the answer was checked by case_record_outcome
    case.refresh_from_db()
    fields: dict = {}
    if payer_reference:
        fields["payer_tracking_id"] = payer_reference[:80]
    if to in (Status.APPROVED, Status.PARTIALLY_APPROVED):
        fields |= {
            "authorization_number": authorization_number[:50],
            "auth_effective_start": effective_start,
            "auth_effective_end": effective_end,
            "units_approved": units_approved,
        }
    if to == Status.DENIED:
        if appeal_deadline is None and case.payer_id:
            appeal_deadline = timezone.localdate() + timedelta(days=case.payer.appeal_window_days)
        fields |= {
            "denial_reason_code": denial_reason_code[:20],
            "denial_reason_text": denial_reason_text,
            "appeal_deadline": appeal_deadline,
        }
    with transaction.atomic():
        if case.status == Status.READY:
            if not case.tasks.filter(kind=Task.Kind.SUBMIT, done_at__isnull=True).exists():
                raise ActionRefused("Submit the case before recording the payer's answer.")
            transition(case, Status.SUBMITTED, actor=actor, reason="Submitted by hand (portal / fax / phone)")
            _open_tasks_close(case=case, actor=actor, kinds=[Task.Kind.SUBMIT])
        if to == Status.SUBMITTED and case.status == Status.SUBMITTED:
            # Already with the payer: only the payer's reference is new.
            if payer_reference:
                PriorAuthCase.objects.filter(pk=case.pk).update(payer_tracking_id=payer_reference[:80])
                case.payer_tracking_id = payer_reference[:80]
            return case_event_add(
                case=case, kind=CaseEvent.Kind.PAYER, actor=actor, message="Payer accepted the request", outcome=outcome
            )
        reason = note.strip() or f"Payer outcome recorded: {to.label}"
        event = transition(case, to, actor=actor, reason=reason, fields=fields, source="manual")
        _open_tasks_close(case=case, actor=actor, kinds=[Task.Kind.RECORD_OUTCOME, Task.Kind.SUBMIT])
        if to == Status.PENDED:
            provider_user = getattr(case.order.ordering_provider, "user", None)
            task_create(
                case=case,
                kind=Task.Kind.ANSWER_INFO_REQUEST,
                title="Answer the payer's information request",
                detail=note.strip(),
                assignee=provider_user,
                role="" if provider_user else Role.CLINICIAN,
                due_at=timezone.now() + timedelta(days=2),
                actor=actor,
            )
        elif to == Status.DENIED:
            task_create(
                case=case,
                kind=Task.Kind.WORK_DENIAL,
                title="Work the denial: appeal or peer-to-peer",
                detail=" ".join(x for x in (denial_reason_code, denial_reason_text) if x),
                role=Role.COORDINATOR,
                due_at=_end_of_day(appeal_deadline, case) if appeal_deadline else None,
                actor=actor,
                dedupe_key=f"denial:{event.pk}",
            )
    return event


def _end_of_day(day, case: PriorAuthCase):
    return datetime.combine(day, time(17, 0), tzinfo=zoneinfo.ZoneInfo(case.practice.time_zone))


def case_escalate(*, case: PriorAuthCase, actor, reason: str) -> Task:
    """Raise the case to the managers with a reason."""
    reason = reason.strip()
    if not reason:
        raise ActionRefused("Say why the case is escalated.")
    if not case.is_open:
        raise ActionRefused("The case is closed.")
    with transaction.atomic():
        case_event_add(case=case, kind=CaseEvent.Kind.ESCALATION, actor=actor, message=f"Escalated: {reason}")
        return task_create(
            case=case,
            kind=Task.Kind.ESCALATION,
            title="Escalated case",
            detail=reason,
            role=Role.MANAGER,
            due_at=timezone.now() + timedelta(days=1),
            actor=actor,
        )


def case_cancel(*, case: PriorAuthCase, actor, reason: str) -> CaseEvent:
    """Cancel the case (order withdrawn); its open tasks are closed.

    A case the payer still has (submitted / pended / appealed) is withdrawn at
    the payer too: through its channel when the channel can (PAS: a Claim
    Update with certification type Cancel, sent after commit and retried while
    the payer is down; the local cancellation stands either way), otherwise by
    a coordinator task to call the payer. Requests not yet sent are withdrawn.
    """
    reason = reason.strip()
    if not reason:
        raise ActionRefused("A cancellation needs a reason.")
    from integrations.registry import can_cancel, channel_name_for

    with transaction.atomic():
        event = transition(case, Status.CANCELLED, actor=actor, reason=f"Cancelled: {reason}")
        _open_tasks_close(case=case, actor=actor)
        awaiting = event.from_status in AWAITING_PAYER
        channel = channel_name_for(case)
        if can_cancel(channel):
            from integrations.pas.services import cancellation_request

            cancellation_request(case=case, actor=actor, awaiting=awaiting)
        elif awaiting:
            task_create(
                case=case,
                kind=Task.Kind.RECORD_OUTCOME,
                title=f"Call {case.payer or 'the payer'} to cancel the request",
                detail=f"The case was cancelled here ({reason}), but the payer still has the request "
                f"({channel or 'channel not set'}). Withdraw it by phone, portal or fax and note the call on the case.",
                role=Role.COORDINATOR,
                due_at=timezone.now() + timedelta(days=1),
                actor=actor,
                dedupe_key="cancel-payer",
            )
    return event


# Uploads: the declared content type is the browser's guess; the first bytes
# decide. Only what a payer accepts in a packet.
_MAGIC = (
    (b"%PDF-", "application/pdf", ".pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png", ".png"),
    (b"\xff\xd8\xff", "image/jpeg", ".jpg"),
)
ALLOWED_UPLOAD_TYPES = frozenset(t for _, t, _ in _MAGIC)
_GENERIC_TYPES = frozenset({"", "application/octet-stream", "binary/octet-stream"})


def sniff_content_type(head: bytes) -> tuple[str, str] | None:
    """(content type, extension) from a file's first bytes, or None if not PDF/PNG/JPEG."""
    for magic, content_type, ext in _MAGIC:
        if head.startswith(magic):
            return content_type, ext
    return None


def document_store(
    *,
    case: PriorAuthCase,
    actor,
    kind: str,
    title: str,
    content: bytes,
    content_type: str,
    name: str,
    message: str,
    source: str = Document.Source.GENERATED,
    requirement=None,
    **details,
) -> Document:
    """Keep `content` as a document of the case and put it on the timeline (the caller checked it).

    `name` only gives the stored file its extension: the stored name is the
    case id and a random token (see document_upload_to), never a title.
    """
    with transaction.atomic():
        doc = Document(
            case=case,
            kind=kind,
            title=title[:200],
            content_type=content_type,
            size_bytes=len(content),
            source=source,
            requirement=requirement,
            uploaded_by=actor,
        )
        doc.file.save(name, ContentFile(content), save=False)
        doc.save()
        case_event_add(
            case=case, kind=CaseEvent.Kind.DOCUMENT, actor=actor, message=message, document_id=doc.pk, **details
        )
    return doc


def document_upload(
    *, case: PriorAuthCase, actor, file, title: str = "", kind: str = "other", requirement_status=None
) -> Document:
    """Store an uploaded PDF / PNG / JPEG on the case.

    With `requirement_status` (an open gap of this case) the gap is met by the
    document. The stored name carries no patient data (see document_upload_to).
    """
    size = file.size
    if size == 0:
        raise ActionRefused("The file is empty.")
    if size > settings.DOCUMENT_MAX_BYTES:
        raise ActionRefused(f"The file is larger than {filesizeformat(settings.DOCUMENT_MAX_BYTES)}.")
    file.seek(0)
    head = file.read(16)
    file.seek(0)
    sniffed = sniff_content_type(head)
    if sniffed is None:
        raise ActionRefused("Only PDF, PNG and JPEG files can be uploaded.")
    content_type, ext = sniffed
    declared = (getattr(file, "content_type", "") or "").split(";")[0].strip().lower()
    if declared not in _GENERIC_TYPES and declared != content_type:
        raise ActionRefused("The file's content does not match its type.")
    if requirement_status is not None and requirement_status.case_id != case.pk:
        raise ActionRefused("That requirement belongs to another case.")
    title = (title.strip() or "Uploaded document")[:200]
    with transaction.atomic():
        # The original file name often names the patient: it is not kept.
        doc = document_store(
            case=case,
            actor=actor,
            kind=kind if kind in Document.Kind.values else Document.Kind.OTHER,
            title=title,
            content=file.read(),
            content_type=content_type,
            name=f"upload{ext}",
            source=Document.Source.UPLOAD,
            message=f"Uploaded: {title}",
            requirement=requirement_status.requirement if requirement_status is not None else None,
        )
        if requirement_status is not None and requirement_status.state == RequirementStatus.State.GAP:
            requirement_status.state = RequirementStatus.State.MET
            requirement_status.resolved_by = actor
            requirement_status.evidence = [
                {"resource": f"Document/{doc.pk}", "date": timezone.localdate().isoformat(), "value": title}
            ]
            requirement_status.note = "Met by an uploaded document"
            requirement_status.save(update_fields=["state", "resolved_by", "evidence", "note", "updated_at"])
            case_advance_if_ready(case=case, actor=actor)
    return doc


def cases_assign_bulk(*, cases, actor, user=None, role: str = "") -> int:
    """Assign many cases to one person (or with user=None unassign them), or spread them over a role's people.

    The one bulk assignment: the queue's "assign selected" and the sweep's
    "assign this bucket" both come here. Each case goes through `case_assign`,
    so each is locked and on its timeline. With `role`, each case goes to
    whoever of that role in the actor's practice has the fewest open cases at
    that moment (ties: lowest id). Returns how many cases changed hands.
    """
    from django.db.models import Count
    from django.db.models import Q as _Q

    from cases.models import User
    from cases.transitions import OPEN_STATUSES

    cases = list(cases)
    # Refuse before the first write, not halfway through the list.
    if user is not None and any(case.practice_id != user.practice_id for case in cases):
        raise ValueError("Cannot assign a case to a user of another practice.")
    changed = 0
    if role:
        holders = list(
            User.objects.filter(practice_id=actor.practice_id, groups__name=role, is_active=True)
            .annotate(load=Count("assigned_cases", filter=_Q(assigned_cases__status__in=list(OPEN_STATUSES))))
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
