"""The one submission gate, the case's next step, and what keeps a case from getting stuck.

A case may be sent to its payer when, and only when:

1. no documentation gap is open,
2. no clinician's answer is outstanding,
3. there is a medical-necessity summary,
4. its exact text is attested by the ordering clinician or one of their delegates,
5. a manager approved the submission, where the practice requires it (checked at *ready*).

`case_gate` lists what is missing in that order; the first item is the case's
next step, shown by name on the case page. `case_reconcile` is called after
anything that can change the answer (a gap met or reopened, a document, a
resolved requirement, a clinician's answer, an attestation, an edited
summary): it redrafts a drafted summary from the evidence, closes the tasks
whose reason is gone (with a timeline line each), opens the tasks the gate
names (a coordinator's "Missing: …", the clinician's input or attestation)
and moves the case to where the gate says it stands — so a case whose
blockers are gone moves on by itself, and a ready case whose evidence changed
goes back.

`case_next_step` answers, for every status, who acts next or which outside
party the case waits for and until when (tests/cases/test_no_dead_ends.py
walks every status through it).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from cases.models import CaseEvent, Order, PriorAuthCase, RequirementStatus, Role, Status, Task
from cases.services import case_event_add, task_create
from cases.summary import summary_refresh
from cases.transitions import InvalidTransition, transition
from payers.models import WhoCloses


@dataclass(frozen=True)
class Blocker:
    code: str  # gaps | clinician_input | summary | attestation | approval
    step: str  # the next step by name, as staff read it
    role: str  # who acts


@dataclass(frozen=True)
class NextStep:
    """What happens next on a case: a person's action, an outside party's answer with its clock, or nothing."""

    text: str
    role: str = ""  # the role that acts (empty when the case waits or is finished)
    waiting_on: str = ""  # the named outside party the case waits for
    until: datetime | None = None  # that party's clock
    finished: bool = False


# Statuses where the gate decides where the case stands (reconcile moves between them).
GATED = frozenset({Status.GATHERING, Status.NEEDS_CLINICIAN, Status.READY})
# The clinician-side blockers: a case waiting only on these is "needs clinician".
CLINICIAN_BLOCKERS = frozenset({"clinician_input", "attestation"})


def provider_label(case: PriorAuthCase) -> str:
    provider = case.order.ordering_provider
    return f"Dr. {provider.last_name}" if provider else "the ordering clinician"


def may_attest(case: PriorAuthCase, user) -> bool:
    """The ordering clinician (the provider's user) or one of the provider's delegates."""
    if user is None or not getattr(user, "pk", None):
        return False
    provider = case.order.ordering_provider
    if getattr(provider, "user", None) is not None and provider.user.pk == user.pk:
        return True
    return provider.delegates.filter(pk=user.pk).exists()


def summary_attested_validly(case: PriorAuthCase) -> bool:
    """The exact text is attested, by a person who may attest for the ordering clinician."""
    if not case.summary_is_attested or not case.summary_attested_by_id:
        return False
    return may_attest(case, case.summary_attested_by)


def case_gate(
    case: PriorAuthCase, *, gap_count: int | None = None, open_task_kinds=None, with_approval: bool = True
) -> list[Blocker]:
    """What stands between the case and its submission, in the order it must be done (empty = may submit)."""
    if gap_count is None:
        gap_count = case.requirement_statuses.filter(state=RequirementStatus.State.GAP).count()
    if open_task_kinds is None:
        open_task_kinds = set(case.tasks.open().values_list("kind", flat=True))
    blockers = []
    if gap_count:
        blockers.append(
            Blocker("gaps", f"Close {gap_count} documentation gap{'s' if gap_count > 1 else ''}", Role.COORDINATOR)
        )
    if Task.Kind.CLINICIAN_INPUT in open_task_kinds:
        blockers.append(Blocker("clinician_input", f"Answer from {provider_label(case)}", Role.CLINICIAN))
    if not case.summary_text.strip():
        blockers.append(Blocker("summary", "Write the medical-necessity summary", Role.COORDINATOR))
    elif not summary_attested_validly(case):
        blockers.append(Blocker("attestation", f"Summary attestation by {provider_label(case)}", Role.CLINICIAN))
    if with_approval and case.needs_approval:  # the practice's setting: every case, expedited, above a cost
        blockers.append(Blocker("approval", "Manager approval", Role.MANAGER))
    return blockers


def _gate_status(blockers: list[Blocker]) -> Status:
    """Where a gated case belongs, from its pre-approval blockers."""
    if not blockers:
        return Status.READY
    # A question out with the clinician, or only their attestation missing: the case waits for them
    # (their own view lists it); otherwise the coordinator's gaps or summary come first.
    if any(b.code == "clinician_input" for b in blockers) or all(b.code in CLINICIAN_BLOCKERS for b in blockers):
        return Status.NEEDS_CLINICIAN
    return Status.GATHERING


def case_reconcile(*, case: PriorAuthCase, actor=None) -> Status:
    """Bring the case's summary, tasks and status in line with its evidence. Returns the status after.

    Idempotent: calling it twice changes nothing the second time. Only a case
    in a gated status (gathering, needs clinician, ready) is moved; the
    summary is redrafted while the payer does not have the request yet.
    """
    with transaction.atomic():
        case = PriorAuthCase.objects.select_for_update(of=("self",)).with_related().get(pk=case.pk)
        if case.status not in GATED:
            return Status(case.status)
        summary_refresh(case=case, actor=actor)
        _gap_tasks_sync(case=case, actor=actor)
        blockers = case_gate(case, with_approval=False)
        _attestation_task_sync(case=case, blockers=blockers, actor=actor)
        target = _gate_status(blockers)
        if target != case.status:
            reason = {
                Status.READY: "Nothing blocks the submission any more",
                Status.NEEDS_CLINICIAN: "Waiting for the clinician: " + blockers[0].step if blockers else "",
                Status.GATHERING: "Back to gathering: " + blockers[0].step if blockers else "",
            }[target]
            # A person's action moves an emergency case too; the system alone does not (transition refuses).
            try:
                transition(case, target, actor=actor, reason=reason)
            except InvalidTransition:
                if not (actor is None and case.order.priority == Order.Priority.EMERGENCY):
                    raise
    return Status(case.status)


def _open_once(*, case, kind, key, **fields) -> Task | None:
    """One open task per reason: `key` names the reason; a reopened reason gets a fresh task."""
    if case.tasks.open().filter(dedupe_key__startswith=f"{key}#").exists():
        return None
    n = case.tasks.filter(dedupe_key__startswith=f"{key}#").count()
    return task_create(case=case, kind=kind, dedupe_key=f"{key}#{n + 1}", **fields)


def _close_with_reason(*, case, tasks, why: str, actor=None) -> int:
    now = timezone.now()
    closed = 0
    for task in tasks:
        if Task.objects.filter(pk=task.pk, done_at__isnull=True).update(done_at=now, done_by=actor):
            closed += 1
            case_event_add(
                case=case,
                kind=CaseEvent.Kind.TASK,
                actor=actor,
                message=f"Closed: {task.title} ({why})",
                task_id=task.pk,
            )
    return closed


def _gap_tasks_sync(*, case: PriorAuthCase, actor=None) -> None:
    """Each open gap has its task (coordinator or clinician, by who closes it); a met gap's task closes itself."""
    statuses = list(case.requirement_statuses.select_related("requirement"))
    provider_user = getattr(case.order.ordering_provider, "user", None)
    for rs in statuses:
        key = f"gap:{rs.requirement_id}"
        # The gap's own task, one made before the per-reason keys (the demo's "gap:<id>"), and the
        # coordinator's review of a clinician's answer to it: all stand for the same reason.
        open_tasks = list(
            case.tasks.open().filter(
                Q(dedupe_key__startswith=f"{key}#") | Q(dedupe_key=key) | Q(dedupe_key__startswith=f"review:{key}#")
            )
        )
        if rs.state != RequirementStatus.State.GAP:
            why = "requirement met" if rs.state == RequirementStatus.State.MET else "resolved by staff"
            _close_with_reason(case=case, tasks=open_tasks, why=why, actor=actor)
            continue
        if open_tasks:
            continue
        description = rs.requirement.description
        if rs.requirement.who_closes == WhoCloses.CLINICIAN:
            _open_once(
                case=case,
                kind=Task.Kind.CLINICIAN_INPUT,
                key=key,
                title=f"Clinical input: {description}"[:200],
                detail=f"The payer requires: {description}. Answer with Done (your answer goes to the coordinator).",
                assignee=provider_user,
                role="" if provider_user else Role.CLINICIAN,
                due_at=timezone.now() + timedelta(days=2),
                actor=actor,
            )
        else:
            _open_once(
                case=case,
                kind=Task.Kind.CLOSE_GAP,
                key=key,
                title=f"Missing: {description}"[:200],
                detail="Upload the document (choose this requirement under 'Meets'), or resolve the gap.",
                assignee=case.assignee,
                role="" if case.assignee_id else Role.COORDINATOR,
                due_at=timezone.now() + timedelta(days=2),
                actor=actor,
            )


def _attestation_task_sync(*, case: PriorAuthCase, blockers: list[Blocker], actor=None) -> None:
    """The clinician gets an attestation task when the summary waits for them, and it closes when it no longer does."""
    waiting = bool(blockers) and blockers[0].code == "attestation"
    open_tasks = list(case.tasks.open().filter(kind=Task.Kind.ATTEST_SUMMARY))
    if waiting and not open_tasks:
        provider_user = getattr(case.order.ordering_provider, "user", None)
        _open_once(
            case=case,
            kind=Task.Kind.ATTEST_SUMMARY,
            key="attest",
            title="Attest the medical-necessity summary",
            detail="Read the summary on the case page and attest it, or edit it first.",
            assignee=provider_user,
            role="" if provider_user else Role.CLINICIAN,
            due_at=timezone.now() + timedelta(days=1),
            actor=actor,
        )
    elif not waiting and open_tasks:
        why = "summary attested" if summary_attested_validly(case) else "the summary is not ready for attestation"
        _close_with_reason(case=case, tasks=open_tasks, why=why, actor=actor)


def case_next_step(
    case: PriorAuthCase, *, blockers: list[Blocker] | None = None, open_task_kinds=None, sending: bool = False
) -> NextStep:
    """Who acts next on this case, or whom it waits for and until when. Every status has an answer.

    `sending`: a request is on its way (queued, being sent or retried by the submission engine), so a ready
    case waits for the payer's receipt, not for another click."""
    status = Status(case.status)
    if status == Status.READY and sending:
        payer = str(case.payer) if case.payer_id else "the payer"
        return NextStep(f"Sending the request to {payer}", waiting_on=payer)
    if status in GATED:
        if blockers is None:
            blockers = case_gate(case, open_task_kinds=open_task_kinds)
        if blockers:
            first = blockers[0]
            if status == Status.NEEDS_CLINICIAN:
                # The case waits for the clinician (their question or attestation): name theirs, not a gap the
                # answer will close, so the status and the next step agree.
                first = next((b for b in blockers if b.code in CLINICIAN_BLOCKERS), first)
            return NextStep(first.step, role=first.role)
        if open_task_kinds is None:
            open_task_kinds = set(case.tasks.open().values_list("kind", flat=True))
        if status == Status.READY and Task.Kind.SUBMIT in open_task_kinds:
            # A channel worked by hand (portal, fax, phone): the submit button has become the coordinator's task.
            return NextStep(
                "Send the request to the payer by hand, then record it as submitted",
                role=Role.COORDINATOR,
            )
        return NextStep("Submit to payer", role=Role.COORDINATOR)
    payer = str(case.payer) if case.payer_id else "the payer"
    match status:
        case Status.NEW:
            return NextStep("Check whether PA is required", role=Role.COORDINATOR)
        case Status.RETRO_AUTH:
            return NextStep("Request retro-authorization", role=Role.COORDINATOR)
        case Status.SUBMITTED:
            return NextStep(f"Awaiting payer decision ({payer})", waiting_on=payer, until=case.decision_due_at)
        case Status.APPEALED:
            return NextStep(f"Awaiting appeal decision ({payer})", waiting_on=payer, until=case.decision_due_at)
        case Status.PENDED:
            return NextStep("Answer the payer's request for information", role=Role.COORDINATOR)
        case Status.DENIED:
            return NextStep("Appeal or peer-to-peer", role=Role.COORDINATOR)
        case Status.PARTIALLY_APPROVED:
            # Accepting the approved part needs no button: the case is scheduled and closed like an approval.
            return NextStep("Appeal the rest, or close the case once the approved part is done", role=Role.COORDINATOR)
        case Status.APPROVED:
            if case.order.scheduled_date:
                return NextStep(
                    "Service scheduled: close the case once it is done",
                    role=Role.COORDINATOR,
                )
            return NextStep("Schedule the service", role=Role.FRONT_DESK)
        case Status.EXPIRED:
            return NextStep("Authorization lapsed: start a new request if still needed", finished=True)
        case Status.NOT_REQUIRED:
            return NextStep("No prior authorization needed", finished=True)
        case Status.CLOSED:
            return NextStep("Closed", finished=True)
        case Status.CANCELLED:
            return NextStep("Cancelled", finished=True)
    raise ValueError(f"No next step is defined for status {status!r}: add it to case_next_step")
