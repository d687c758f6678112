"""The case state machine: the table, the one writer, its clocks and signals."""

import datetime as dt
from itertools import product

import pytest
import time_machine
from django.db import connection, transaction

from cases.models import CaseEvent, Order, PriorAuthCase, Status, Urgency
from cases.transitions import (
    ALLOWED,
    EMERGENCY_SYSTEM_TARGETS,
    InvalidTransition,
    can_transition,
    case_status_changing,
    case_transitioned,
    transition,
)
from tests import factories as f

pytestmark = pytest.mark.django_db

ALLOWED_PAIRS = sorted((a, b) for a, targets in ALLOWED.items() for b in targets)
FORBIDDEN_PAIRS = sorted((a, b) for a, b in product(Status, Status) if b not in ALLOWED[a])

NOW = dt.datetime(2026, 3, 2, 14, 0, tzinfo=dt.UTC)


@pytest.fixture
def make_case(practice):
    """A case placed in a status. One practice per test: each new practice seeds its SMS templates."""
    provider = f.ProviderFactory(practice=practice)
    patient = f.PatientFactory(practice=practice)

    def make(status=Status.NEW, *, priority=Order.Priority.ROUTINE, payer=None, **kwargs):
        order = f.OrderFactory(practice=practice, patient=patient, ordering_provider=provider, priority=priority)
        payer = payer or f.PayerFactory(name="Impacted", cms_impacted=True)
        return f.CaseFactory(order=order, status=status, payer=payer, **kwargs)

    return make


@pytest.fixture
def staff(practice):
    return f.UserFactory(practice=practice)


@pytest.fixture
def signals_seen():
    """Records both signals, with whether the sender was inside a transaction."""
    seen = []

    def changing(sender, **kw):
        seen.append(("changing", kw["from_status"], kw["to_status"], connection.in_atomic_block, kw["event"].pk))

    def transitioned(sender, **kw):
        seen.append(("transitioned", kw["from_status"], kw["to_status"], kw["case_id"], kw["event_id"]))

    case_status_changing.connect(changing, dispatch_uid="test-changing")
    case_transitioned.connect(transitioned, dispatch_uid="test-transitioned")
    yield seen
    case_status_changing.disconnect(dispatch_uid="test-changing")
    case_transitioned.disconnect(dispatch_uid="test-transitioned")


def test_the_table_names_every_status_and_only_statuses():
    # given the table, then every status has a row and every target is a status
    assert set(ALLOWED) == set(Status)
    assert all(targets <= set(Status) for targets in ALLOWED.values())
    # and no status moves to itself; closed and cancelled are terminal
    assert all(status not in ALLOWED[status] for status in Status)
    assert ALLOWED[Status.CLOSED] == ALLOWED[Status.CANCELLED] == frozenset()
    # the complement really is the rest of the square
    assert len(ALLOWED_PAIRS) + len(FORBIDDEN_PAIRS) == len(Status) ** 2


@pytest.mark.parametrize(
    ("from_status", "to_status", "allowed"),
    [
        # the product's path, and the shortcuts it must not take
        (Status.NEW, Status.GATHERING, True),
        (Status.GATHERING, Status.READY, True),
        (Status.READY, Status.SUBMITTED, True),
        (Status.SUBMITTED, Status.PENDED, True),
        (Status.PENDED, Status.SUBMITTED, True),
        (Status.DENIED, Status.APPEALED, True),
        (Status.APPROVED, Status.EXPIRED, True),
        (Status.NEW, Status.SUBMITTED, False),  # never submitted without a packet
        (Status.GATHERING, Status.SUBMITTED, False),
        (Status.READY, Status.APPROVED, False),  # only a payer answer decides
        (Status.APPROVED, Status.DENIED, False),
        (Status.CLOSED, Status.GATHERING, False),
        (Status.CANCELLED, Status.NEW, False),
    ],
)
def test_the_table_keeps_the_product_rules(from_status, to_status, allowed):
    assert (to_status in ALLOWED[from_status]) is allowed


@pytest.mark.parametrize(("from_status", "to_status"), ALLOWED_PAIRS, ids=[f"{a}->{b}" for a, b in ALLOWED_PAIRS])
def test_every_allowed_move_saves_the_status_and_writes_an_event(make_case, staff, from_status, to_status):
    # given a case in `from_status`
    case = make_case(from_status)
    # when a person moves it
    event = transition(case, to_status, actor=staff, reason="because", note_id=7)
    # then the row and the in-memory case carry the new status
    assert case.status == to_status
    assert PriorAuthCase.objects.get(pk=case.pk).status == to_status
    # and exactly one timeline line records who, from where, to where
    (stored,) = CaseEvent.objects.filter(case=case, kind=CaseEvent.Kind.STATUS)
    assert stored.pk == event.pk
    assert (stored.kind, stored.actor, stored.from_status, stored.to_status) == (
        CaseEvent.Kind.STATUS,
        staff,
        from_status,
        to_status,
    )
    assert stored.message == "because"
    assert stored.details == {"note_id": 7}
    assert can_transition(PriorAuthCase(status=from_status), to_status)


@pytest.mark.parametrize("from_status", sorted(Status))
def test_every_forbidden_move_raises_and_changes_nothing(make_case, staff, signals_seen, from_status):
    # given a case in `from_status` with a clock running
    case = make_case(from_status, next_poll_at=NOW)
    before = PriorAuthCase.objects.values().get(pk=case.pk)
    # One case per row of the table: a refused move changes nothing, so every
    # forbidden target of the row is tried on the same case (and the later
    # tries also prove the earlier ones left it untouched).
    forbidden = [to for frm, to in FORBIDDEN_PAIRS if frm == from_status]
    assert forbidden, "every status has at least one forbidden target (itself)"
    for to_status in forbidden:
        # when anyone tries the move
        with pytest.raises(InvalidTransition) as excinfo:
            transition(case, to_status, actor=staff)
        # then the error names the case and both statuses
        move = f"{from_status}->{to_status}"
        assert excinfo.value.case_id == case.pk, move
        assert (excinfo.value.from_status, excinfo.value.to_status) == (from_status, to_status), move
        assert str(case.pk) in str(excinfo.value), move
        assert Status(to_status).label in str(excinfo.value), move
        assert not can_transition(PriorAuthCase(status=from_status), to_status), move
        # and nothing changed: row, in-memory case, timeline, signals
        assert PriorAuthCase.objects.values().get(pk=case.pk) == before, move
        assert case.status == from_status, move
        assert not CaseEvent.objects.filter(case=case).exists(), move
        assert signals_seen == [], move


def test_the_move_is_checked_against_the_stored_status_not_a_stale_copy(make_case, staff):
    # given a case that another request already submitted
    case = make_case(Status.READY)
    stale = PriorAuthCase.objects.get(pk=case.pk)
    transition(case, Status.SUBMITTED, actor=staff)
    # when a stale copy (still "ready") asks for ready -> gathering
    with pytest.raises(InvalidTransition) as excinfo:
        transition(stale, Status.GATHERING, actor=staff)
    # then it is refused from the stored status
    assert excinfo.value.from_status == Status.SUBMITTED
    assert PriorAuthCase.objects.get(pk=case.pk).status == Status.SUBMITTED


def test_a_system_move_has_no_actor(make_case):
    case = make_case(Status.NEW)
    event = transition(case, Status.GATHERING, actor=None)
    assert event.actor is None
    assert event.actor_display == "system"


def test_decision_fields_are_written_with_the_status(make_case, staff):
    # given a submitted case, when the approval is recorded with its number
    case = make_case(Status.SUBMITTED)
    transition(case, Status.APPROVED, actor=staff, fields={"authorization_number": "AUTH-1", "units_approved": 3})
    # then both land in the same row
    stored = PriorAuthCase.objects.get(pk=case.pk)
    assert (stored.status, stored.authorization_number, stored.units_approved) == (Status.APPROVED, "AUTH-1", 3)
    assert case.authorization_number == "AUTH-1"


def test_fields_outside_the_allowed_set_are_refused_before_anything_is_written(make_case, staff):
    case = make_case(Status.SUBMITTED)
    with pytest.raises(ValueError, match="assignee"):
        transition(case, Status.APPROVED, actor=staff, fields={"assignee": staff})
    assert PriorAuthCase.objects.get(pk=case.pk).status == Status.SUBMITTED
    assert not CaseEvent.objects.filter(case=case, kind=CaseEvent.Kind.STATUS).exists()


def test_an_unknown_target_status_is_refused(make_case, staff):
    case = make_case(Status.NEW)
    with pytest.raises(ValueError):
        transition(case, "teleported", actor=staff)
    assert PriorAuthCase.objects.get(pk=case.pk).status == Status.NEW


# --- clocks -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("cms_impacted", "urgency", "window"),
    [
        (True, Urgency.EXPEDITED, dt.timedelta(hours=72)),
        (True, Urgency.STANDARD, dt.timedelta(days=7)),
        # non-impacted payers: their configured turnaround (set below)
        (False, Urgency.EXPEDITED, dt.timedelta(hours=48)),
        (False, Urgency.STANDARD, dt.timedelta(hours=240)),
    ],
)
def test_submission_stamps_submitted_at_and_the_payer_decision_deadline(
    make_case, staff, cms_impacted, urgency, window
):
    # given a ready case of a payer with a configured turnaround
    payer = f.PayerFactory(
        name="Configured", cms_impacted=cms_impacted, standard_turnaround_hours=240, expedited_turnaround_hours=48
    )
    case = make_case(Status.READY, payer=payer, urgency=urgency)
    # when it is submitted at a known time
    with time_machine.travel(NOW, tick=False):
        transition(case, Status.SUBMITTED, actor=staff)
    # then the clock starts now and the deadline is the payer's window
    stored = PriorAuthCase.objects.get(pk=case.pk)
    assert stored.submitted_at == NOW
    assert stored.decision_due_at == NOW + window
    assert stored.status_changed_at == NOW
    assert (stored.decided_at, stored.closed_at) == (None, None)


def test_resubmitting_after_a_pend_keeps_the_first_submission_clock(make_case, staff):
    # given a case submitted at NOW and then pended
    case = make_case(Status.READY)
    with time_machine.travel(NOW, tick=False):
        transition(case, Status.SUBMITTED, actor=staff)
    transition(case, Status.PENDED, actor=None)
    due = PriorAuthCase.objects.get(pk=case.pk).decision_due_at
    # when the requested information goes back two days later
    with time_machine.travel(NOW + dt.timedelta(days=2), tick=False):
        transition(case, Status.SUBMITTED, actor=staff)
    # then the original submission time and deadline stand
    stored = PriorAuthCase.objects.get(pk=case.pk)
    assert stored.submitted_at == NOW
    assert stored.decision_due_at == due


def test_a_case_without_a_payer_gets_no_deadline(make_case, staff):
    case = make_case(Status.READY)
    PriorAuthCase.objects.filter(pk=case.pk).update(payer=None)
    case.refresh_from_db()
    transition(case, Status.SUBMITTED, actor=staff)
    stored = PriorAuthCase.objects.get(pk=case.pk)
    assert stored.submitted_at is not None
    assert stored.decision_due_at is None


@pytest.mark.parametrize(
    ("from_status", "to_status"),
    [
        (Status.SUBMITTED, Status.APPROVED),
        (Status.SUBMITTED, Status.PARTIALLY_APPROVED),
        (Status.SUBMITTED, Status.DENIED),
        (Status.PENDED, Status.APPROVED),
        (Status.APPEALED, Status.DENIED),
        # the payer answered "no action required" (X12 306 NA): a decision too
        (Status.SUBMITTED, Status.NOT_REQUIRED),
    ],
)
def test_a_payer_decision_stamps_decided_at_and_stops_polling(make_case, staff, from_status, to_status):
    case = make_case(from_status, next_poll_at=NOW)
    later = NOW + dt.timedelta(days=1)
    with time_machine.travel(later, tick=False):
        transition(case, to_status, actor=None)
    stored = PriorAuthCase.objects.get(pk=case.pk)
    assert stored.decided_at == later
    assert stored.next_poll_at is None


@pytest.mark.parametrize(
    ("from_status", "to_status"),
    [(Status.NEW, Status.NOT_REQUIRED), (Status.NEW, Status.GATHERING), (Status.SUBMITTED, Status.PENDED)],
)
def test_moves_that_are_not_payer_decisions_leave_decided_at_empty(make_case, staff, from_status, to_status):
    case = make_case(from_status)
    transition(case, to_status, actor=staff)
    assert PriorAuthCase.objects.get(pk=case.pk).decided_at is None


@pytest.mark.parametrize(
    ("from_status", "to_status"), [(Status.SUBMITTED, Status.PENDED), (Status.DENIED, Status.APPEALED)]
)
def test_polling_continues_while_the_payer_still_owes_an_answer(make_case, staff, from_status, to_status):
    case = make_case(from_status, next_poll_at=NOW)
    transition(case, to_status, actor=None)
    assert PriorAuthCase.objects.get(pk=case.pk).next_poll_at == NOW


@pytest.mark.parametrize(
    ("from_status", "to_status"),
    [
        (Status.APPROVED, Status.CLOSED),
        (Status.DENIED, Status.CLOSED),
        (Status.GATHERING, Status.CANCELLED),
        (Status.NEW, Status.NOT_REQUIRED),
        (Status.EXPIRED, Status.CLOSED),
        (Status.APPROVED, Status.EXPIRED),
    ],
)
def test_closing_moves_stamp_closed_at(make_case, staff, from_status, to_status):
    case = make_case(from_status)
    with time_machine.travel(NOW, tick=False):
        transition(case, to_status, actor=staff)
    assert PriorAuthCase.objects.get(pk=case.pk).closed_at == NOW


def test_open_moves_leave_closed_at_empty(make_case, staff):
    case = make_case(Status.NEW)
    transition(case, Status.GATHERING, actor=staff)
    transition(case, Status.READY, actor=staff)
    transition(case, Status.SUBMITTED, actor=staff)
    assert PriorAuthCase.objects.get(pk=case.pk).closed_at is None


# --- emergency orders -----------------------------------------------------------


@pytest.mark.parametrize("to_status", sorted(ALLOWED[Status.NEW] - EMERGENCY_SYSTEM_TARGETS))
def test_the_automation_never_moves_an_emergency_order_into_the_workflow(make_case, to_status):
    # given a new case for an emergency order
    case = make_case(Status.NEW, priority=Order.Priority.EMERGENCY)
    # when the system (no actor) tries to move it anywhere but retro-auth
    with pytest.raises(InvalidTransition, match="emergency"):
        transition(case, to_status, actor=None)
    # then nothing changed
    assert PriorAuthCase.objects.get(pk=case.pk).status == Status.NEW
    assert not CaseEvent.objects.filter(case=case).exists()


def test_the_automation_flags_an_emergency_order_for_retro_authorization(make_case):
    case = make_case(Status.NEW, priority=Order.Priority.EMERGENCY)
    transition(case, Status.RETRO_AUTH, actor=None)
    assert PriorAuthCase.objects.get(pk=case.pk).status == Status.RETRO_AUTH


@pytest.mark.parametrize("to_status", sorted(ALLOWED[Status.RETRO_AUTH] - EMERGENCY_SYSTEM_TARGETS))
def test_after_retro_auth_the_automation_still_keeps_its_hands_off(make_case, to_status):
    case = make_case(Status.RETRO_AUTH, priority=Order.Priority.EMERGENCY)
    with pytest.raises(InvalidTransition):
        transition(case, to_status, actor=None)
    assert PriorAuthCase.objects.get(pk=case.pk).status == Status.RETRO_AUTH


def test_a_person_may_move_an_emergency_order_on(make_case, staff):
    case = make_case(Status.RETRO_AUTH, priority=Order.Priority.EMERGENCY)
    transition(case, Status.GATHERING, actor=staff)
    assert PriorAuthCase.objects.get(pk=case.pk).status == Status.GATHERING


def test_the_emergency_guard_does_not_touch_routine_orders(make_case):
    case = make_case(Status.NEW, priority=Order.Priority.URGENT)
    transition(case, Status.GATHERING, actor=None)
    assert PriorAuthCase.objects.get(pk=case.pk).status == Status.GATHERING


# --- signals ----------------------------------------------------------------------


def test_status_changing_is_sent_inside_the_transaction_and_transitioned_only_on_commit(
    make_case, staff, signals_seen, django_capture_on_commit_callbacks
):
    # given a ready case
    case = make_case(Status.READY)
    # when it is submitted, holding back the on-commit callbacks
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        event = transition(case, Status.SUBMITTED, actor=staff)
        # then "changing" came inside the atomic block, after the event was written
        assert signals_seen == [("changing", Status.READY, Status.SUBMITTED, True, event.pk)]
    # and "transitioned" waits for the commit
    assert [s[0] for s in signals_seen] == ["changing"]
    assert len(callbacks) >= 1
    # when the transaction commits
    for callback in callbacks:
        callback()
    # then "transitioned" carries ids only
    assert signals_seen[1:] == [("transitioned", Status.READY, Status.SUBMITTED, case.pk, event.pk)]


def test_transitioned_is_not_sent_when_the_surrounding_transaction_rolls_back(
    make_case, staff, signals_seen, django_capture_on_commit_callbacks
):
    # given a ready case, moved inside a transaction that then fails
    case = make_case(Status.READY)
    with django_capture_on_commit_callbacks(execute=True):
        with pytest.raises(RuntimeError), transaction.atomic():
            transition(case, Status.SUBMITTED, actor=staff)
            raise RuntimeError("later step failed")
    # then the move and its event are gone and "transitioned" never fired
    assert PriorAuthCase.objects.get(pk=case.pk).status == Status.READY
    assert not CaseEvent.objects.filter(case=case).exists()
    assert [s[0] for s in signals_seen] == ["changing"]


def test_a_failing_changing_receiver_rolls_the_move_back(make_case, staff, django_capture_on_commit_callbacks):
    # given an outbox receiver that fails
    def broken(sender, **kwargs):
        raise RuntimeError("outbox write failed")

    case = make_case(Status.READY)
    case_status_changing.connect(broken, dispatch_uid="test-broken")
    try:
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            with pytest.raises(RuntimeError):
                transition(case, Status.SUBMITTED, actor=staff)
    finally:
        case_status_changing.disconnect(dispatch_uid="test-broken")
    # then the move did not happen and nothing is scheduled
    assert PriorAuthCase.objects.get(pk=case.pk).status == Status.READY
    assert not CaseEvent.objects.filter(case=case).exists()
    assert callbacks == []
