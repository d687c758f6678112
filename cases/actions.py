"""Staff actions on the case page. Keyword-only `<entity>_<action>`.

Each checks the case's state (permissions by role are checked by the view,
see cases/permissions.py), writes through `transition`, the submission
engine or a CaseEvent, and raises ActionRefused with a sentence staff can
read when the action does not fit the case as it stands now. No action
knows a channel: the engine (integrations.submission) and the registry do.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from cases.decisions import BY_HAND, decision_apply, decision_from_answer
from cases.models import CaseEvent, PriorAuthCase, RequirementStatus, Role, Status, Task
from cases.readiness import case_gate, case_reconcile, may_attest, provider_label
from cases.services import ActionRefused, case_event_add, task_create, tasks_close
from cases.summary import EDITABLE_STATUSES, case_summary_set
from cases.transitions import (
    AWAITING_PAYER,
    CLOSABLE_STATUSES,
    PA_DECISION_STATUSES,
    can_transition,
    transition,
)
from integrations.registry import channel_name_for, is_automated
from integrations.submission.models import IN_FLIGHT
from integrations.submission.services import (
    SubmissionRefused,
    cancellation_request,
    submission_record_by_hand,
    submission_request,
)


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
        # Its task closes itself, the summary is redrafted, and the case moves only as far as the gate
        # lets it (never to ready without an attested summary).
        case_reconcile(case=case, actor=actor)


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


def summary_version(text: str) -> str:
    """A short fingerprint of the summary text the page showed: an attestation names what was read."""
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def case_attest_summary(*, case: PriorAuthCase, actor, version: str | None = None) -> PriorAuthCase:
    """The ordering clinician (or their delegate) attests the exact summary text now on the case.

    `version` is `summary_version` of the text the attesting person read; when the text has changed
    since (the evidence moved, someone edited it), the attestation is refused: they read it again.
    """
    with transaction.atomic():
        locked = PriorAuthCase.objects.select_for_update(of=("self",)).with_related().get(pk=case.pk)
        if not locked.summary_text.strip():
            raise ActionRefused("There is no summary to attest.")
        if version is not None and version != summary_version(locked.summary_text):
            raise ActionRefused("The summary changed since you read it. Read the new text, then attest it.")
        if locked.summary_is_attested:
            raise ActionRefused("The summary is already attested.")
        if not may_attest(locked, actor):
            raise ActionRefused(f"Only {provider_label(locked)} or their delegate can attest this summary.")
        locked.summary_attested_by = actor
        locked.summary_attested_at = timezone.now()
        locked.summary_attested_text = locked.summary_text
        locked.save(update_fields=["summary_attested_by", "summary_attested_at", "summary_attested_text"])
        case_event_add(case=locked, kind=CaseEvent.Kind.NOTE, actor=actor, message="Medical-necessity summary attested")
        case_reconcile(case=locked, actor=actor)
    case.refresh_from_db()
    return case


def case_approve_submission(*, case: PriorAuthCase, actor) -> PriorAuthCase:
    """A manager approves the case for submission (practice.submission_requires_approval)."""
    with transaction.atomic():
        locked = PriorAuthCase.objects.select_for_update(of=("self",)).with_related().get(pk=case.pk)
        if locked.status != Status.READY:
            raise ActionRefused(
                f"Only a case that is ready to submit can be approved; this one is '{locked.get_status_display()}'."
            )
        if locked.submission_approved_at:
            raise ActionRefused("The submission is already approved.")
        blockers = case_gate(locked, with_approval=False)
        if blockers:
            raise ActionRefused("Not ready: " + "; ".join(b.step for b in blockers) + ".")
        locked.submission_approved_by = actor
        locked.submission_approved_at = timezone.now()
        locked.save(update_fields=["submission_approved_by", "submission_approved_at"])
        case_event_add(case=locked, kind=CaseEvent.Kind.APPROVAL, actor=actor, message="Submission approved")
        tasks_close(case=locked, actor=actor, kinds=[Task.Kind.APPROVE_SUBMISSION])
    case.refresh_from_db()
    return case


def case_submit(*, case: PriorAuthCase, actor):
    """Send a ready case to its payer, through the payer's channel (integrations.registry).

    The submission engine writes a `Submission` row under the case's row lock:
    an automated channel sends it after commit and the case moves to
    `submitted` when the payer's receipt arrives; a channel worked by hand
    gives the coordinator the task of sending the packet, and the case moves
    when they record that the payer has it. A double click or two staff at
    once get the same row back. Returns the Submission.
    """

    case.refresh_from_db()
    if case.status != Status.READY:
        raise ActionRefused(f"Only a case that is ready can be submitted; this one is '{case.get_status_display()}'.")
    # The one gate (cases/readiness.py): gaps, the clinician's answer, an attested summary, approval.
    blockers = case_gate(case)
    if [b for b in blockers if b.code != "approval"]:
        # The evidence moved since the case became ready: it goes back to where the gate says.
        case_reconcile(case=case, actor=actor)
    if [b.code for b in blockers] == ["approval"]:
        raise ActionRefused("A manager must approve this submission first.")
    if blockers:
        raise ActionRefused("Not ready to submit: " + "; ".join(b.step for b in blockers) + ".")
    try:
        return submission_request(case=case, actor=actor)
    except SubmissionRefused as exc:
        raise ActionRefused(str(exc)) from exc


def case_send_update(*, case: PriorAuthCase, actor, message: str = ""):
    """Answer a payer that pended the case: send what staff added since it asked.

    Staff first attach documents (or write `message`, their words to the
    payer). The submission engine sends an update of the request through the
    payer's channel (by a person's task for a channel worked by hand); the
    case moves pended → submitted when the payer has it. The payer's
    information-request tasks are closed: staff have answered.

    Under the case's row lock: a double click, or two staff at once, get the
    first update back and write nothing twice.
    """

    message = message.strip()
    with transaction.atomic():
        locked = PriorAuthCase.objects.select_for_update(of=("self",)).select_related("payer").get(pk=case.pk)
        if locked.status != Status.PENDED:
            raise ActionRefused("Only a case the payer pended can be answered with more information.")
        if locked.summary_text and not locked.summary_is_attested:
            raise ActionRefused("Not ready: summary not attested.")
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
        try:
            result = submission_request(case=locked, actor=actor, message=message)
        except SubmissionRefused as exc:
            raise ActionRefused(str(exc)) from exc
        # The payer's question and the clinician's answer to it are both dealt with now.
        tasks_close(case=locked, actor=actor, kinds=[Task.Kind.ANSWER_INFO_REQUEST, Task.Kind.REVIEW_ANSWER])
    return result


OUTCOMES = {
    "submitted": Status.SUBMITTED,
    "approved": Status.APPROVED,
    "partially_approved": Status.PARTIALLY_APPROVED,
    "pended": Status.PENDED,
    "denied": Status.DENIED,
}


def case_record_outcome(*, case: PriorAuthCase, actor, outcome: str, **answer):
    """Record what a payer answered on its portal, by fax or by phone.

    `outcome` is submitted (the payer has the request, no decision yet),
    approved, partially_approved, pended (with the payer's request in `note`)
    or denied; `answer` holds its details (see `decision_from_answer`). A
    request sent by hand is first marked received by the payer; a decision
    then goes through `cases.decisions.decision_apply`, exactly as one from a
    payer's API would: the same tasks, due times, write-back and text.

    On a channel worked by hand, the first answer to a ready case (it was
    sent by hand) and outcome submitted on a pended one (the information was
    sent by hand) keep the submission packet as it stands as a generated
    document: what the payer has. It is built before this outcome changes the
    case (a new payer reference would change its cover) and outside the
    transaction (no row lock while PDFs are read). If it cannot be built or
    stored, the outcome is recorded all the same and the timeline says so.
    """
    from cases.packet_pdf import packet_build_for_record, packet_keep_as_sent

    to = _outcome_check(outcome=outcome, **answer)  # refuse before building anything
    case.refresh_from_db()
    sent_by_hand = (
        case.status == Status.READY or (case.status == Status.PENDED and to == Status.SUBMITTED)
    ) and not is_automated(channel_name_for(case))
    packet, error = packet_build_for_record(case) if sent_by_hand else (None, "")
    event = _outcome_record(case=case, actor=actor, to=to, outcome=outcome, **answer)
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


def _outcome_record(*, case: PriorAuthCase, actor, to: Status, outcome: str, **answer) -> CaseEvent:

    note = answer.get("note", "").strip()
    payer_reference = answer.get("payer_reference", "").strip()
    with transaction.atomic():
        locked = PriorAuthCase.objects.select_for_update(of=("self",)).get(pk=case.pk)
        sent_now = locked.status == Status.READY or (locked.status == Status.PENDED and to == Status.SUBMITTED)
        if sent_now:
            # Sent by hand: the payer has it now (refused when nobody was asked to send it).
            try:
                submission_record_by_hand(case=locked, actor=actor, payer_reference=payer_reference)
            except SubmissionRefused as exc:
                raise ActionRefused(str(exc)) from exc
            locked.refresh_from_db()
        if to == Status.SUBMITTED:
            if not sent_now and payer_reference and locked.status == Status.SUBMITTED:
                PriorAuthCase.objects.filter(pk=locked.pk).update(payer_tracking_id=payer_reference[:80])
            return case_event_add(
                case=locked,
                kind=CaseEvent.Kind.PAYER,
                actor=actor,
                message="Payer accepted the request" + (f": {note}" if note else "")[:250],
                outcome=outcome,
            )
        if to == locked.status or not can_transition(locked, to):
            raise ActionRefused(f"A case that is '{locked.get_status_display()}' cannot be recorded as '{to.label}'.")
        # The pended request is the decision's own text; any other note stays on the timeline.
        decision = decision_from_answer(outcome=outcome, **answer)
        event = decision_apply(
            case=locked,
            decision=decision,
            source=BY_HAND,
            actor=actor,
            note="" if to == Status.PENDED else note,
        )
        if event is None:
            raise ActionRefused("The payer's answer changed nothing on the case as it stands now.")
    case.refresh_from_db()
    return event


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
    the payer too, through the submission engine: an automated channel sends
    the cancellation after commit and retries it while the payer is down (the
    local cancellation stands either way); a channel worked by hand gives a
    coordinator the task to call the payer. Requests not yet sent are withdrawn.
    """

    reason = reason.strip()
    if not reason:
        raise ActionRefused("A cancellation needs a reason.")
    with transaction.atomic():
        event = transition(case, Status.CANCELLED, actor=actor, reason=f"Cancelled: {reason}")
        tasks_close(case=case, actor=actor)
        cancellation_request(case=case, actor=actor, awaiting=event.from_status in AWAITING_PAYER, reason=reason)
    return event


def case_decide_pa(*, case: PriorAuthCase, actor, required: bool, reason: str = "") -> CaseEvent:
    """A coordinator's answer to "is PA required?" on a NEW or retro-authorization case.

    Required: the case starts gathering its packet (for an emergency order, the retro-authorization request) and
    is reconciled with its gate, so its summary, gaps and approval are asked for like any other case; it needs a
    payer for that. Not required: the case is marked so, with the reason on the timeline. Either way the
    "check whether PA is required" / "request retro-authorization" task is done.
    """
    reason = reason.strip()
    if case.status not in PA_DECISION_STATUSES:
        raise ActionRefused("Whether PA is required is decided only on a new or retro-authorization case.")
    if required and not case.payer_id:
        raise ActionRefused(
            "This case has no payer: confirm the patient's coverage (an admin adds it) before gathering the packet."
        )
    if not required and not reason:
        raise ActionRefused("Say why no prior authorization is needed.")
    kinds = (Task.Kind.REVIEW_RULE, Task.Kind.RETRO_AUTH)
    with transaction.atomic():
        if required:
            why = reason or (
                "Retro-authorization requested" if case.status == Status.RETRO_AUTH else "PA required (checked by hand)"
            )
            event = transition(case, Status.GATHERING, actor=actor, reason=why)
            tasks_close(case=case, actor=actor, kinds=kinds)
            case.refresh_from_db()
            case_reconcile(case=case, actor=actor)
        else:
            event = transition(case, Status.NOT_REQUIRED, actor=actor, reason=f"No PA required: {reason}")
            tasks_close(case=case, actor=actor)
    return event


def case_close(*, case: PriorAuthCase, actor, reason: str) -> CaseEvent:
    """Close a case nobody has work on any more: the service was delivered on an approval, a denial or partial
    approval is accepted without appeal, an appeal is withdrawn, a lapsed authorization is not renewed.

    The case's next step asks for this ("close the case once it is done"); without it an approved case would stay
    on the authorizations list and in the metrics' backlog for ever. Open tasks are closed with it.
    """
    reason = reason.strip()
    if not reason:
        raise ActionRefused("Closing a case needs a reason (e.g. service delivered).")
    if case.status not in CLOSABLE_STATUSES:
        raise ActionRefused(f"A case that is {case.get_status_display().lower()} cannot be closed.")
    with transaction.atomic():
        event = transition(case, Status.CLOSED, actor=actor, reason=f"Closed: {reason}")
        tasks_close(case=case, actor=actor)
    return event


def task_complete(*, task: Task, actor, answer: str = "") -> Task:
    """Mark a task done; `answer` (optional) goes on the timeline with it.

    A clinician's input task answered returns the case to its coordinator: the
    answer is on the timeline, the coordinator (the assignee, else the role)
    gets a task to review it, and the case is reconciled with its gate
    (cases/readiness.py), so it moves on by itself when nothing else blocks it.
    """
    answer = answer.strip()
    with transaction.atomic():
        locked = Task.objects.select_for_update().select_related("case").get(pk=task.pk)
        if locked.done_at is not None:
            return locked
        locked.done_at = timezone.now()
        locked.done_by = actor
        locked.save(update_fields=["done_at", "done_by"])
        case = locked.case
        if answer:
            case_event_add(
                case=case,
                kind=CaseEvent.Kind.NOTE,
                actor=actor,
                message=f"Answer to {locked.title}: {answer}"[:300],
                text=answer,
                task_id=locked.pk,
            )
        case_event_add(
            case=case, kind=CaseEvent.Kind.TASK, actor=actor, message=f"Done: {locked.title}", task_id=locked.pk
        )
        answered_for_payer = locked.kind == Task.Kind.ANSWER_INFO_REQUEST and case.status == Status.PENDED
        if locked.kind == Task.Kind.CLINICIAN_INPUT or (
            answered_for_payer and actor is not None and actor.has_role(Role.CLINICIAN)
        ):
            reason = locked.dedupe_key.split("#")[0] if locked.dedupe_key else f"task:{locked.pk}"
            what = (
                f"Send the clinician's answer to {case.payer}"
                if answered_for_payer
                else "Review the clinician's answer"
            )
            task_create(
                case=case,
                kind=Task.Kind.REVIEW_ANSWER,
                title=f"{what}: {locked.title}"[:200],
                detail=answer or "Marked done without a written answer: see the case.",
                assignee=case.assignee,
                role="" if case.assignee_id else Role.COORDINATOR,
                due_at=timezone.now() + timedelta(days=1),
                actor=actor,
                dedupe_key=f"review:{reason}#{locked.pk}",
            )
        case_reconcile(case=case, actor=actor)
    return locked


def case_update_summary(*, case: PriorAuthCase, actor, text: str) -> PriorAuthCase:
    """Staff edit the summary text. Any change clears the attestation; the case then waits for it again.

    Refused once the payer has the request (a pended case may still change it: the change is sent with
    the additional information) and for an empty text.
    """
    text = text.replace("\r\n", "\n").strip()
    if not text:
        raise ActionRefused("The summary cannot be empty.")
    if len(text) > 10_000:
        raise ActionRefused("The summary is longer than 10,000 characters.")
    case.refresh_from_db()
    if case.status not in EDITABLE_STATUSES:
        raise ActionRefused(f"A case that is '{case.get_status_display()}' has its summary with the payer already.")
    if text == case.summary_text:
        raise ActionRefused("The summary is unchanged.")
    case_summary_set(case=case, text=text, source="staff", actor=actor)
    case_reconcile(case=case, actor=actor)
    case.refresh_from_db()
    return case


def case_gate_problems(case: PriorAuthCase, *, with_approval: bool = True) -> list[str]:
    """Why this case may not go to the payer now, in staff's words (empty: the gate is met).

    The one submission gate (`cases.readiness.case_gate`: no open gap, no open clinician question, a summary,
    attested by the ordering clinician or a delegate, then a manager's approval where the practice asks for it),
    for a case that is ready; bulk approval asks without the approval it is about to give.
    """
    if case.status != Status.READY:
        return [f"not ready to submit ({case.get_status_display().lower()})"]
    return [b.step for b in case_gate(case, with_approval=with_approval)]


def cases_approve_bulk(*, cases, actor) -> tuple[list[PriorAuthCase], list[tuple[PriorAuthCase, str]]]:
    """Approve for submission every case whose gate is met; return (approved, [(case, why not)]).

    Each approval goes through `case_approve_submission` (row lock, timeline, task closed), so a case approved by a
    colleague a moment ago is refused with that reason instead of approved twice.
    """
    approved, refused = [], []
    for case in cases:
        if not case.practice.requires_approval_for(case):
            refused.append((case, "needs no approval under the practice's setting"))
            continue
        problems = case_gate_problems(case, with_approval=False)
        if problems:
            refused.append((case, "; ".join(problems)))
            continue
        try:
            case_approve_submission(case=case, actor=actor)
        except ActionRefused as exc:
            refused.append((case, str(exc).rstrip(".").lower()))
        else:
            approved.append(case)
    return approved, refused
