"""Queue reads: the state methods of `CaseQuerySet`."""

import datetime as dt

import pytest

from cases.models import PriorAuthCase, Status
from cases.transitions import OPEN_STATUSES
from tests import factories as f

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 3, 2, 14, 0, tzinfo=dt.UTC)
PAST = NOW - dt.timedelta(hours=1)
FUTURE = NOW + dt.timedelta(hours=1)


@pytest.fixture
def make_case(practice, owner_provider, payer):
    patient = f.PatientFactory(practice=practice)

    def make(status, **kwargs):
        order = f.OrderFactory(practice=practice, patient=patient, ordering_provider=owner_provider)
        return f.CaseFactory(order=order, payer=payer, status=status, **kwargs)

    return make


def _pks(qs):
    return set(qs.values_list("pk", flat=True))


def test_open_and_closed_split_every_status(make_case):
    cases = {status: make_case(status) for status in Status}
    open_pks = _pks(PriorAuthCase.objects.open())
    closed_pks = _pks(PriorAuthCase.objects.closed())
    assert open_pks == {cases[s].pk for s in OPEN_STATUSES}
    assert closed_pks == {c.pk for s, c in cases.items() if s not in OPEN_STATUSES}


def test_overdue_is_a_payer_deadline_passed_without_a_decision(make_case):
    # given cases waiting on the payer, past and before their deadline
    late = make_case(Status.SUBMITTED, decision_due_at=PAST)
    late_pended = make_case(Status.PENDED, decision_due_at=PAST)
    make_case(Status.SUBMITTED, decision_due_at=FUTURE)
    # and cases the payer already decided, whose (met) deadline is now in the past
    make_case(Status.DENIED, decision_due_at=PAST)
    make_case(Status.APPROVED, decision_due_at=PAST)
    # and one back with us (deadline kept from an earlier submission)
    make_case(Status.GATHERING, decision_due_at=PAST)
    # then only the undecided ones are overdue
    assert _pks(PriorAuthCase.objects.overdue(NOW)) == {late.pk, late_pended.pk}


def test_awaiting_payer_and_due_for_poll(make_case):
    submitted = make_case(Status.SUBMITTED, next_poll_at=PAST)
    pended = make_case(Status.PENDED, next_poll_at=FUTURE)
    appealed = make_case(Status.APPEALED, next_poll_at=PAST)
    make_case(Status.READY, next_poll_at=PAST)  # a stale poll time on a case not with the payer
    assert _pks(PriorAuthCase.objects.awaiting_payer()) == {submitted.pk, pended.pk, appealed.pk}
    assert _pks(PriorAuthCase.objects.due_for_poll(NOW)) == {submitted.pk, appealed.pk}


def test_assignment_and_clinician_filters(make_case, coordinator):
    mine = make_case(Status.GATHERING, assignee=coordinator)
    nobody = make_case(Status.NEEDS_CLINICIAN)
    assert _pks(PriorAuthCase.objects.assigned_to(coordinator)) == {mine.pk}
    assert _pks(PriorAuthCase.objects.unassigned()) == {nobody.pk}
    assert _pks(PriorAuthCase.objects.needs_clinician()) == {nobody.pk}
