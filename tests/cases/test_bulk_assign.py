"""`cases_assign_bulk`: the one way many cases change hands (queue and sweep)."""

import pytest

from cases.models import CaseEvent, Role
from cases.services import ActionRefused, cases_assign_bulk
from tests import factories as f


@pytest.fixture
def three_cases(practice, owner_provider, coordinator):
    def make(**kw):
        return f.CaseFactory(order=f.OrderFactory(practice=practice, ordering_provider=owner_provider), **kw)

    return [make(assignee=coordinator), make(), make()]


def test_counts_only_the_cases_that_changed_hands(three_cases, coordinator, manager):
    # given one of three cases is already the coordinator's
    # when all three are assigned to the coordinator
    changed = cases_assign_bulk(cases=three_cases, actor=manager, user=coordinator)
    # then two changed hands, each on its own timeline
    assert changed == 2
    assert all(c.assignee_id == coordinator.pk for c in three_cases)
    assert CaseEvent.objects.filter(kind=CaseEvent.Kind.ASSIGNED).count() == 2


def test_spreads_over_a_role_by_open_load(three_cases, practice, coordinator, manager):
    second = f.UserFactory(practice=practice, username="coord2", roles=[Role.COORDINATOR])
    changed = cases_assign_bulk(cases=three_cases[1:], actor=manager, role=Role.COORDINATOR)
    # the coordinator already holds one open case: the new one gets the first, then a tie goes to the lower id
    assert changed == 2
    assert three_cases[1].assignee_id == second.pk
    assert three_cases[2].assignee_id == min(coordinator.pk, second.pk)


def test_refuses_a_user_of_another_practice_before_any_write(three_cases, manager, outsider):
    with pytest.raises(ValueError):
        cases_assign_bulk(cases=three_cases, actor=manager, user=outsider)
    assert not CaseEvent.objects.filter(kind=CaseEvent.Kind.ASSIGNED).exists()


def test_a_role_nobody_holds_is_refused(three_cases, manager):
    with pytest.raises(ActionRefused):
        cases_assign_bulk(cases=three_cases, actor=manager, role=Role.FRONT_DESK)
