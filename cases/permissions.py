"""Which role may take which action: on a case it can see, on the sweep, on the dashboard.

Whether a user may *see* a case is `PriorAuthCase.objects.visible_to` (404
otherwise), and which sweep items `SweepItem.objects.visible_to`. This
module answers the second question: of what they see, what may they do.
Whether the case's state allows it is decided by the service
(ActionRefused); `available_actions` combines both so the case page shows
only buttons that will work.
"""

from django.http import Http404

from cases.models import Role, Status, Task
from cases.transitions import AWAITING_PAYER, can_transition

R = Role
ROLE_ACTIONS: dict[str, frozenset[str]] = {
    "assign": frozenset({R.MANAGER, R.COORDINATOR}),
    "note": frozenset({R.MANAGER, R.COORDINATOR, R.CLINICIAN, R.FRONT_DESK}),
    "upload": frozenset({R.MANAGER, R.COORDINATOR, R.CLINICIAN}),
    "resolve_gap": frozenset({R.MANAGER, R.COORDINATOR, R.CLINICIAN}),
    "request_input": frozenset({R.MANAGER, R.COORDINATOR}),
    "attest": frozenset({R.CLINICIAN}),
    "approve": frozenset({R.MANAGER}),
    "submit": frozenset({R.MANAGER, R.COORDINATOR}),
    "send_update": frozenset({R.MANAGER, R.COORDINATOR}),
    "record_outcome": frozenset({R.MANAGER, R.COORDINATOR}),
    "escalate": frozenset({R.MANAGER, R.COORDINATOR, R.CLINICIAN}),
    "cancel": frozenset({R.MANAGER, R.COORDINATOR}),
    "appeal": frozenset({R.MANAGER, R.COORDINATOR}),
    "download": frozenset({R.MANAGER, R.COORDINATOR, R.CLINICIAN}),
    # The submission packet (cases/packet_pdf.py): the people who send it to the payer.
    "packet": frozenset({R.MANAGER, R.COORDINATOR}),
    # The morning sweep (cases/sweep/): everyone may open the page and sees
    # their items; managers run it, assign from it and see every bucket with
    # what changed since the day before; front desk asks for a reschedule.
    "sweep_run": frozenset({R.MANAGER}),
    "sweep_assign": frozenset({R.MANAGER}),
    "sweep_compare": frozenset({R.MANAGER}),
    "sweep_reschedule": frozenset({R.MANAGER, R.FRONT_DESK}),
    # The metrics dashboard (cases/metrics/): practice-wide figures.
    "dashboard": frozenset({R.MANAGER}),
}
INPUT_STATUSES = frozenset(
    {Status.NEW, Status.GATHERING, Status.READY, Status.NEEDS_CLINICIAN, Status.PENDED, Status.DENIED}
)
OUTCOME_STATUSES = AWAITING_PAYER
# When a packet is worth sending: ready to go, with the payer, or being appealed.
PACKET_STATUSES = frozenset({Status.READY, Status.SUBMITTED, Status.PENDED, Status.APPEALED, Status.DENIED})


def role_allows(user, action: str) -> bool:
    return user.has_role(*ROLE_ACTIONS[action])


def require_role(user, action: str) -> None:
    """Http404 unless the user's role allows `action`: like a case they may not see, never 403."""
    if not role_allows(user, action):
        raise Http404


def can_complete_task(user, task: Task) -> bool:
    """The assignee, any holder of the task's role when unassigned, or a manager."""
    if user.has_role(R.MANAGER):
        return True
    if task.assignee_id:
        return task.assignee_id == user.pk
    return bool(task.role) and user.has_role(task.role)


def available_actions(user, case, *, open_task_kinds: set[str], has_gaps: bool) -> dict[str, bool]:
    """Buttons for the case page: the role allows it and the state does too."""
    is_open = case.is_open
    ready = case.status == Status.READY
    needs_approval = case.practice.submission_requires_approval and not case.submission_approved_at
    submit_queued = Task.Kind.SUBMIT in open_task_kinds
    state = {
        "assign": is_open,
        "note": True,
        "upload": is_open,
        "resolve_gap": is_open and has_gaps,
        "request_input": case.status in INPUT_STATUSES,
        "attest": bool(case.summary_text) and not case.summary_is_attested,
        "approve": ready and needs_approval,
        "submit": ready and not needs_approval and not submit_queued,
        # Answer a pended request; the service refuses when nothing was added since.
        "send_update": case.status == Status.PENDED,
        "record_outcome": case.status in OUTCOME_STATUSES or (ready and submit_queued),
        "escalate": is_open,
        "cancel": can_transition(case, Status.CANCELLED),
        "appeal": case.status in (Status.DENIED, Status.PARTIALLY_APPROVED),
        "download": True,
        "packet": bool(case.payer_id) and case.status in PACKET_STATUSES,
    }
    return {name: allowed and role_allows(user, name) for name, allowed in state.items()}
