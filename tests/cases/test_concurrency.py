"""Two moves on one case at once serialize on the row lock: one wins, the other is refused.

Real threads, each with its own database connection, and real commits
(transaction=True), because a row lock inside one test transaction proves nothing.
"""

import threading

import pytest
from django.db import connection

from cases.models import CaseEvent, Order, PriorAuthCase, Status
from cases.transitions import InvalidTransition, case_status_changing, case_transitioned, transition
from tests import factories as f

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("postgres_only")]


def _race(case_pk, targets, *, hold_first=False):
    """Run one transition per target, each in its own thread; return ["won" | exception] by target.

    With `hold_first`, the first mover pauses inside its transaction (in the
    in-transaction signal, so it holds the row lock) until the second mover
    has started; the second must then wait for the lock and see the result.
    """
    outcomes = [None] * len(targets)
    start = threading.Barrier(len(targets))
    first_inside = threading.Event()
    second_started = threading.Event()

    def hold(sender, to_status, **kwargs):
        if hold_first and to_status == targets[0]:
            first_inside.set()
            second_started.wait(timeout=5)
            # give the second mover time to reach select_for_update and block on it
            threading.Event().wait(0.3)

    def mover(index, target):
        try:
            case = PriorAuthCase.objects.get(pk=case_pk)  # both read "ready" before anyone moves
            start.wait(timeout=5)
            if hold_first and index == 1:
                assert first_inside.wait(timeout=5)
                second_started.set()
            transition(case, target, actor=None)
            outcomes[index] = "won"
        except Exception as exc:  # the outcome is what we assert on
            outcomes[index] = exc
        finally:
            connection.close()

    case_status_changing.connect(hold, dispatch_uid="test-hold")
    try:
        threads = [threading.Thread(target=mover, args=(i, t)) for i, t in enumerate(targets)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=20)
        assert not any(thread.is_alive() for thread in threads), "a mover hung"
    finally:
        case_status_changing.disconnect(dispatch_uid="test-hold")
    return outcomes


@pytest.fixture
def committed():
    """Receivers of the after-commit signal, recorded across threads."""
    seen = []

    def record(sender, case_id, to_status, **kwargs):
        seen.append((case_id, to_status))

    case_transitioned.connect(record, dispatch_uid="test-committed")
    yield seen
    case_transitioned.disconnect(dispatch_uid="test-committed")


def _ready_case():
    return f.gate_met(f.CaseFactory(status=Status.READY, payer=f.PayerFactory(cms_impacted=True)))


def test_a_move_waits_for_the_lock_and_then_sees_the_first_moves_result(committed):
    # given a ready case, and two people acting on it at the same moment:
    # one submits it, the other sends it back to gathering (each fine alone)
    case = _ready_case()
    # when the submit holds the row and the send-back arrives meanwhile
    outcomes = _race(case.pk, [Status.SUBMITTED, Status.GATHERING], hold_first=True)
    # then the submit won and the send-back, re-read under the lock, was refused
    won, loser = outcomes
    assert won == "won"
    assert isinstance(loser, InvalidTransition), loser
    assert (loser.from_status, loser.to_status) == (Status.SUBMITTED, Status.GATHERING)
    # and the stored case and its timeline show exactly one move
    stored = PriorAuthCase.objects.get(pk=case.pk)
    assert stored.status == Status.SUBMITTED
    assert stored.submitted_at is not None
    moves = list(
        CaseEvent.objects.filter(case=case, kind=CaseEvent.Kind.STATUS).values_list("from_status", "to_status")
    )
    assert moves == [(Status.READY, Status.SUBMITTED)]
    # and only the committed move was announced
    assert committed == [(case.pk, Status.SUBMITTED)]


def test_two_identical_moves_at_once_have_exactly_one_winner(committed):
    # given a ready case and two workers that both try to submit it
    case = _ready_case()
    # when both run at the same moment
    outcomes = _race(case.pk, [Status.SUBMITTED, Status.SUBMITTED])
    # then one won and the other found the case already submitted
    assert outcomes.count("won") == 1, outcomes
    (loser,) = [o for o in outcomes if o != "won"]
    assert isinstance(loser, InvalidTransition), loser
    assert loser.from_status == Status.SUBMITTED
    assert CaseEvent.objects.filter(case=case, kind=CaseEvent.Kind.STATUS).count() == 1
    assert committed == [(case.pk, Status.SUBMITTED)]


def test_detecting_one_order_twice_at_once_opens_one_case(monkeypatch):
    # given an order, and two intake runs that both find it has no case yet
    from cases import detection

    order = f.OrderFactory()
    both_checked = threading.Barrier(2)
    real_coverage_active_for = detection.coverage_active_for

    def after_the_existence_check(*, order):
        both_checked.wait(timeout=5)  # both have passed "is there a case?"
        return real_coverage_active_for(order=order)

    monkeypatch.setattr(detection, "coverage_active_for", after_the_existence_check)
    outcomes = [None, None]

    def detect(slot):
        try:
            outcomes[slot] = detection.case_open_for_order(order=Order.objects.get(pk=order.pk)).pk
        except Exception as exc:  # the outcome is what we assert on
            outcomes[slot] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=detect, args=(slot,)) for slot in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    # then both answer with the same single case (idempotent per order, even racing)
    case = PriorAuthCase.objects.get(order=order)
    assert outcomes == [case.pk, case.pk], outcomes
    assert case.events.filter(message="Order received").count() == 1
