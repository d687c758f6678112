"""Who may see what, and which role may do what: the one permission table.

Two answers, one rule for every app:

- An object the user may not see (a case, and anything reached through one:
  a document, a task, a patient's texting consent) answers **404**, so its
  existence does not leak. `get_case_for_user` is the getter every view uses;
  seeing a case is `PriorAuthCase.objects.visible_to`.
- A page or action the user's role may not use, on something they may see
  (or on no object at all, like order entry), answers **403**:
  `require_role(user, action)` over `ROLE_ACTIONS`.

Whether the case's *state* allows an action is decided by the service
(ActionRefused); `available_actions` combines both so the case page shows
only buttons that will work.
"""

from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404

from cases.models import CASE_WORKER_ROLES, PriorAuthCase, Role, Status, Task
from cases.summary import EDITABLE_STATUSES as SUMMARY_EDITABLE
from cases.transitions import (
    APPROVED_STATUSES,
    AWAITING_PAYER,
    CLOSABLE_STATUSES,
    PA_DECISION_STATUSES,
    can_transition,
)

R = Role
# Everyone `visible_to` lets see a case (clinicians only their own).
CASE_VIEWERS = frozenset({R.MANAGER, R.COORDINATOR, R.CLINICIAN, R.FRONT_DESK, R.ADMIN})
ROLE_ACTIONS: dict[str, frozenset[str]] = {
    # --- actions on one case the user sees (the case page's buttons) ---
    "assign": CASE_WORKER_ROLES,  # who works cases may assign them, and only they may be handed one
    "note": frozenset({R.MANAGER, R.COORDINATOR, R.CLINICIAN, R.FRONT_DESK}),
    "upload": frozenset({R.MANAGER, R.COORDINATOR, R.CLINICIAN}),
    "resolve_gap": frozenset({R.MANAGER, R.COORDINATOR, R.CLINICIAN}),
    "request_input": frozenset({R.MANAGER, R.COORDINATOR}),
    "attest": frozenset({R.CLINICIAN}),
    # The medical-necessity summary's text (cases.summary.case_update_summary): any change needs a new attestation.
    "edit_summary": frozenset({R.MANAGER, R.COORDINATOR, R.CLINICIAN}),
    "approve": frozenset({R.MANAGER}),
    "submit": frozenset({R.MANAGER, R.COORDINATOR}),
    "send_update": frozenset({R.MANAGER, R.COORDINATOR}),
    "record_outcome": frozenset({R.MANAGER, R.COORDINATOR}),
    "escalate": frozenset({R.MANAGER, R.COORDINATOR, R.CLINICIAN}),
    "cancel": frozenset({R.MANAGER, R.COORDINATOR}),
    # Close a decided case with nothing left to do (service delivered, denial accepted, lapsed authorization).
    "close": frozenset({R.MANAGER, R.COORDINATOR}),
    # "Is PA required?" answered by hand on a new or retro-authorization case.
    "decide_pa": frozenset({R.MANAGER, R.COORDINATOR}),
    # The service date where the EHR has none (kept as "entered by hand").
    "schedule": frozenset({R.MANAGER, R.COORDINATOR, R.FRONT_DESK}),
    "appeal": frozenset({R.MANAGER, R.COORDINATOR}),
    "download": frozenset({R.MANAGER, R.COORDINATOR, R.CLINICIAN}),
    # The submission packet (cases/packet_pdf.py): the people who send it to the payer.
    "packet": frozenset({R.MANAGER, R.COORDINATOR}),
    # A patient said on the phone "no more texts": whoever took the call records it.
    "phone_opt_out": CASE_VIEWERS,
    # --- pages and actions not tied to one case ---
    # A fax or phone order typed in (integrations/ehr_fhir): the people who open cases.
    "order_entry": frozenset({R.MANAGER, R.COORDINATOR}),
    # The 7:30 sweep page itself is for every signed-in user (each sees their own
    # items, `SweepItem.objects.visible_to`); running it and handing out buckets are not.
    "sweep_run": frozenset({R.MANAGER}),
    "sweep_assign": frozenset({R.MANAGER}),
    # Managers see every bucket of the sweep with what changed since the day before.
    "sweep_compare": frozenset({R.MANAGER}),
    "sweep_reschedule": frozenset({R.MANAGER, R.FRONT_DESK}),
    "dashboard": frozenset({R.MANAGER}),
    # The authorizations list (approved / partial cases) and the units used against one: who schedules.
    "authorizations": frozenset({R.MANAGER, R.COORDINATOR, R.FRONT_DESK}),
    "units_used": frozenset({R.MANAGER, R.COORDINATOR, R.FRONT_DESK}),
    # Minimum necessary: the clinical side of a case (diagnoses, summary, documents, requirements
    # and their evidence, the timeline's notes, the payer's words). The front desk sees the
    # scheduling facts only (patient, service, dates, authorization number, status).
    "clinical": frozenset({R.MANAGER, R.COORDINATOR, R.CLINICIAN, R.ADMIN}),
    # The access log (cases/audit): managers answer the compliance officer's questions.
    "audit_log": frozenset({R.MANAGER, R.ADMIN}),
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
    """403 unless the user's role may take `action` (see the module's rule)."""
    if not role_allows(user, action):
        raise PermissionDenied


def get_case_for_user(request, pk: int) -> PriorAuthCase:
    """The case if this user may see it; 404 otherwise, so existence does not leak."""
    return get_object_or_404(PriorAuthCase.objects.visible_to(request.user).with_related(), pk=pk)


def visible_tasks(user):
    """Tasks of the cases this user may see."""
    return Task.objects.filter(case__in=PriorAuthCase.objects.visible_to(user).values("pk"))


def get_task_for_user(request, task_pk: int) -> Task:
    """The task if its case is one this user may see; 404 otherwise."""
    return get_object_or_404(visible_tasks(request.user).select_related("case"), pk=task_pk)


def sees_clinical(user) -> bool:
    """Whether the case page shows this user the clinical side of a case (see ROLE_ACTIONS["clinical"])."""
    return role_allows(user, "clinical")


def can_enter_orders(user) -> bool:
    """Order entry needs a practice to put the order in."""
    return bool(user.practice_id) and role_allows(user, "order_entry")


def can_view_sweep(user) -> bool:
    """The sweep page: any signed-in user; what they see is filtered per item."""
    return user.is_authenticated


def can_view_dashboard(user) -> bool:
    """The metrics dashboard: a manager of a practice (the metrics are per practice)."""
    return bool(user.practice_id) and role_allows(user, "dashboard")


def can_complete_task(user, task: Task) -> bool:
    """The assignee, any holder of the task's role when unassigned, or a manager."""
    if user.has_role(R.MANAGER):
        return True
    if task.assignee_id:
        return task.assignee_id == user.pk
    return bool(task.role) and user.has_role(task.role)


def available_actions(
    user, case, *, open_task_kinds: set[str], has_gaps: bool, sending: bool = False
) -> dict[str, bool]:
    """Buttons for the case page: the role allows it and the state does too (`sending`: a request is on its
    way, so Submit is not offered again while the payer's receipt is awaited)."""
    is_open = case.is_open
    ready = case.status == Status.READY
    needs_approval = case.needs_approval
    submit_queued = Task.Kind.SUBMIT in open_task_kinds
    state = {
        "assign": is_open,
        "note": True,
        "upload": is_open,
        "resolve_gap": is_open and has_gaps,
        "request_input": case.status in INPUT_STATUSES,
        "attest": bool(case.summary_text) and not case.summary_is_attested and case.status in SUMMARY_EDITABLE,
        "edit_summary": case.status in SUMMARY_EDITABLE,
        "approve": ready and needs_approval,
        "submit": ready and not needs_approval and not submit_queued and not sending,
        # Answer a pended request; the service refuses when nothing was added since.
        "send_update": case.status == Status.PENDED,
        "record_outcome": case.status in OUTCOME_STATUSES or (ready and submit_queued),
        "escalate": is_open,
        "cancel": can_transition(case, Status.CANCELLED),
        "close": case.status in CLOSABLE_STATUSES,
        "decide_pa": case.status in PA_DECISION_STATUSES,
        # An approved case is where the front desk books the service: its date may be set then too.
        "schedule": (is_open or case.status in APPROVED_STATUSES) and case.order.scheduled_source != "ehr",
        "appeal": case.status in (Status.DENIED, Status.PARTIALLY_APPROVED),
        "download": True,
        "packet": bool(case.payer_id) and case.status in PACKET_STATUSES,
    }
    return {name: allowed and role_allows(user, name) for name, allowed in state.items()}
