"""The case state machine: the allowed moves as data, and the one writer.

Nothing else assigns `PriorAuthCase.status` (tests/test_conventions.py checks).
Side effects of a move (submitting, polling, notifying the patient, writing
back to the EHR) are not done here: receivers of `case_transitioned` are
scheduled with `transaction.on_commit`, so they never see a move that was
rolled back.
"""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction
from django.dispatch import Signal
from django.utils import timezone

from cases.models import CaseEvent, Order, PriorAuthCase, Status

# Sent inside the transaction that moves a case, after its CaseEvent is
# written, with sender=PriorAuthCase, case, event, from_status, to_status,
# actor. Receivers write outbox rows (patient message, EHR write-back, tasks)
# here, so a side effect is recorded if and only if the move commits.
case_status_changing = Signal()

# Sent after the transaction that moved a case commits, with
# sender=PriorAuthCase, case_id, event_id, from_status, to_status, actor_id.
# Receivers enqueue background work (ids only).
case_transitioned = Signal()

S = Status

ALLOWED: dict[Status, frozenset[Status]] = {
    S.NEW: frozenset({S.NOT_REQUIRED, S.RETRO_AUTH, S.GATHERING, S.NEEDS_CLINICIAN, S.READY, S.CANCELLED}),
    # A person may decide a rule was wrong and reopen the case.
    S.NOT_REQUIRED: frozenset({S.GATHERING, S.CLOSED}),
    S.RETRO_AUTH: frozenset({S.GATHERING, S.READY, S.NOT_REQUIRED, S.CANCELLED}),
    S.GATHERING: frozenset({S.NEEDS_CLINICIAN, S.READY, S.NOT_REQUIRED, S.CANCELLED}),
    S.NEEDS_CLINICIAN: frozenset({S.GATHERING, S.READY, S.CANCELLED}),
    # Back to gathering when a gap reopens (e.g. a document is rejected).
    S.READY: frozenset({S.GATHERING, S.NEEDS_CLINICIAN, S.SUBMITTED, S.CANCELLED}),
    # NOT_REQUIRED: the payer answered "no action required" (X12 306 NA).
    S.SUBMITTED: frozenset({S.PENDED, S.APPROVED, S.PARTIALLY_APPROVED, S.DENIED, S.NOT_REQUIRED, S.CANCELLED}),
    # Pended → submitted when the requested information is sent back.
    S.PENDED: frozenset({S.SUBMITTED, S.APPROVED, S.PARTIALLY_APPROVED, S.DENIED, S.CANCELLED}),
    S.APPROVED: frozenset({S.CLOSED, S.EXPIRED, S.CANCELLED}),
    S.PARTIALLY_APPROVED: frozenset({S.APPEALED, S.CLOSED, S.EXPIRED, S.CANCELLED}),
    S.DENIED: frozenset({S.APPEALED, S.CLOSED, S.CANCELLED}),
    S.APPEALED: frozenset({S.PENDED, S.APPROVED, S.PARTIALLY_APPROVED, S.DENIED, S.CLOSED, S.CANCELLED}),
    S.EXPIRED: frozenset({S.CLOSED}),
    S.CLOSED: frozenset(),
    S.CANCELLED: frozenset(),
}

# Status groups: every "is the case …?" question asks one of these, never a tuple written out.
# The payer has the request and owes an answer (polled, escalated when it stalls or nears its deadline).
AWAITING_PAYER = frozenset({S.SUBMITTED, S.PENDED, S.APPEALED})
# The payer decided (an appeal reopens it).
DECISION_STATUSES = frozenset({S.APPROVED, S.PARTIALLY_APPROVED, S.DENIED})
# Someone still has work on the case (a denial is open until it is appealed or closed).
OPEN_STATUSES = frozenset(
    {S.NEW, S.RETRO_AUTH, S.GATHERING, S.NEEDS_CLINICIAN, S.READY, S.SUBMITTED, S.PENDED, S.DENIED, S.APPEALED}
)
# Not yet decided by the payer (open and before any decision).
UNDECIDED_STATUSES = frozenset({S.NEW, S.RETRO_AUTH, S.GATHERING, S.NEEDS_CLINICIAN, S.READY, S.SUBMITTED, S.PENDED})
TERMINAL_STATUSES = frozenset({S.CLOSED, S.CANCELLED})
# An authorization the practice holds: the payer approved all or part of the request.
APPROVED_STATUSES = frozenset({S.APPROVED, S.PARTIALLY_APPROVED})
# Decided, with nothing left to do once the staff say so (cases.actions.case_close). Not an appeal in progress:
# the payer still has it, and cancelling (which withdraws it at the payer) is the way out of that.
CLOSABLE_STATUSES = frozenset({S.APPROVED, S.PARTIALLY_APPROVED, S.DENIED, S.EXPIRED})
# Where a person answers "is PA required?" by hand (cases.actions.case_decide_pa): the rules could not decide (NEW)
# or an emergency order waits for its retro-authorization request (RETRO_AUTH).
PA_DECISION_STATUSES = frozenset({S.NEW, S.RETRO_AUTH})
# Where the automation may take an emergency order: nowhere but the
# retro-authorization flag. A person moves it on from there.
EMERGENCY_SYSTEM_TARGETS = frozenset({S.RETRO_AUTH, S.CANCELLED})


def appeal_window(urgency: str) -> timedelta:
    """How long the payer has to decide a pre-service appeal, from filing.

    72 hours expedited, 30 days standard: the federal timeframes for
    Medicare Advantage reconsiderations (42 CFR 422.590), Medicaid managed
    care appeals (42 CFR 438.408) and ACA internal appeals of pre-service
    claims (29 CFR 2560.503-1); used for every payer.
    """
    return timedelta(hours=72) if urgency == "expedited" else timedelta(days=30)


class InvalidTransition(Exception):
    """A move the table does not allow, or one the case's order forbids."""

    def __init__(self, case_id, from_status, to_status, why: str = ""):
        self.case_id, self.from_status, self.to_status = case_id, from_status, to_status
        label_from = Status(from_status).label if from_status in Status.values else from_status
        label_to = Status(to_status).label if to_status in Status.values else to_status
        message = f"Case {case_id} cannot move from '{label_from}' to '{label_to}'"
        super().__init__(f"{message}: {why}" if why else f"{message}.")


def allowed_targets(status: str) -> frozenset[Status]:
    return ALLOWED.get(Status(status), frozenset())


def can_transition(case: PriorAuthCase, to: str) -> bool:
    return Status(to) in allowed_targets(case.status)


# Fields `transition` may set alongside the status, so callers can record a
# payer decision or a cancellation reason in the same locked write.
_WRITABLE_WITH_STATUS = frozenset(
    {
        "authorization_number",
        "auth_effective_start",
        "auth_effective_end",
        "units_approved",
        "denial_reason_code",
        "denial_reason_text",
        "appeal_deadline",
        "payer_tracking_id",
        "channel",
        "next_poll_at",
        "rule",
        "payer",
        "plan",
        "urgency",
    }
)


def transition(
    case: PriorAuthCase,
    to: str,
    *,
    actor=None,
    reason: str = "",
    fields: dict | None = None,
    **details,
) -> CaseEvent:
    """Move `case` to status `to` and record it on the timeline.

    `actor` is the user who did it, or None for the system. `fields` sets
    decision fields in the same write (see `_WRITABLE_WITH_STATUS`); `details`
    is stored as structured data on the CaseEvent (no PHI beyond the case).

    The row is re-read under `select_for_update`, so two concurrent moves on
    one case serialize and the second sees the first's result: if the first
    made the second's move invalid, the second raises `InvalidTransition` and
    changes nothing. `case` is refreshed in place with the saved values.
    """
    to = Status(to)
    fields = dict(fields or {})
    unknown = set(fields) - _WRITABLE_WITH_STATUS
    if unknown:
        raise ValueError(f"transition() cannot set {sorted(unknown)}")
    with transaction.atomic():
        # of=("self",): lock the case row only; PostgreSQL refuses FOR UPDATE
        # on the nullable side of an outer join, and the order is not ours to lock.
        locked = PriorAuthCase.objects.select_for_update(of=("self",)).select_related("order", "payer").get(pk=case.pk)
        from_status = Status(locked.status)
        if to not in ALLOWED[from_status]:
            raise InvalidTransition(locked.pk, from_status, to)
        if actor is None and locked.order.priority == Order.Priority.EMERGENCY and to not in EMERGENCY_SYSTEM_TARGETS:
            raise InvalidTransition(
                locked.pk, from_status, to, "emergency orders are never moved by the automation; a person must."
            )

        now = timezone.now()
        changed = {"status", "status_changed_at"}
        locked.status = to
        locked.status_changed_at = now
        for name, value in fields.items():
            setattr(locked, name, value)
            changed.add(name)
        changed |= _stamp_clocks(locked, from_status, to, now)
        locked.save(update_fields=sorted(changed))

        event = CaseEvent.objects.create(
            case=locked,
            kind=CaseEvent.Kind.STATUS,
            actor=actor,
            from_status=from_status,
            to_status=to,
            message=reason[:300],
            details={k: _jsonable(v) for k, v in details.items()},
            created_at=now,
        )
        case_status_changing.send(
            sender=PriorAuthCase, case=locked, event=event, from_status=from_status, to_status=to, actor=actor
        )
        transaction.on_commit(
            lambda: case_transitioned.send(
                sender=PriorAuthCase,
                case_id=locked.pk,
                event_id=event.pk,
                from_status=from_status,
                to_status=to,
                actor_id=getattr(actor, "pk", None),
            )
        )
    _refresh(case, locked, changed)
    return event


def _stamp_clocks(case: PriorAuthCase, from_status: Status, to: Status, now) -> set[str]:
    """Set the clocks a move starts or stops; returns the fields touched."""
    touched: set[str] = set()
    if to == S.SUBMITTED:
        if case.submitted_at is None:
            case.submitted_at = now
            touched.add("submitted_at")
        if case.payer_id and case.decision_due_at is None:
            window = case.payer.decision_window(expedited=case.urgency == "expedited")
            case.decision_due_at = case.submitted_at + window
            touched.add("decision_due_at")
    if to == S.APPEALED:
        # The appeal has its own deadline; the first decision's has passed.
        case.decision_due_at = now + appeal_window(case.urgency)
        touched.add("decision_due_at")
    if to in DECISION_STATUSES or to == S.NOT_REQUIRED and from_status == S.SUBMITTED:
        case.decided_at = now
        touched.add("decided_at")
    if to not in (S.SUBMITTED, S.PENDED, S.APPEALED) and case.next_poll_at is not None:
        # Nothing left to ask the payer.
        case.next_poll_at = None
        touched.add("next_poll_at")
    if to in TERMINAL_STATUSES or to in (S.NOT_REQUIRED, S.EXPIRED):
        case.closed_at = now
        touched.add("closed_at")
    return touched


def _refresh(target: PriorAuthCase, source: PriorAuthCase, names) -> None:
    for name in names:
        field = PriorAuthCase._meta.get_field(name)
        setattr(target, field.attname, getattr(source, field.attname))


def _jsonable(value):
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return str(value)
