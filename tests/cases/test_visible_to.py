"""`PriorAuthCase.objects.visible_to(user)`: the one way views get cases."""

import pytest
from django.contrib.auth.models import AnonymousUser

from cases.models import PriorAuthCase, Role
from tests import factories as f

pytestmark = pytest.mark.django_db


@pytest.fixture
def cases(practice, other_practice, owner_provider, other_clinician, payer):
    """The owner's case, a colleague's case, and another practice's case."""
    mine = f.CaseFactory(order=f.OrderFactory(practice=practice, ordering_provider=owner_provider), payer=payer)
    colleague = f.CaseFactory(
        order=f.OrderFactory(practice=practice, ordering_provider=other_clinician.provider), payer=payer
    )
    elsewhere = f.CaseFactory(order=f.OrderFactory(practice=other_practice), payer=payer)
    return {"mine": mine, "colleague": colleague, "elsewhere": elsewhere}


def _visible(user, cases):
    pks = set(PriorAuthCase.objects.visible_to(user).values_list("pk", flat=True))
    return {name for name, case in cases.items() if case.pk in pks}


@pytest.mark.parametrize("role_fixture", ["coordinator", "manager", "front_desk"])
def test_practice_staff_see_every_case_of_their_practice_only(request, cases, role_fixture):
    user = request.getfixturevalue(role_fixture)
    assert _visible(user, cases) == {"mine", "colleague"}


def test_a_practice_admin_sees_the_practice(practice, cases):
    admin = f.UserFactory(practice=practice, roles=[Role.ADMIN])
    assert _visible(admin, cases) == {"mine", "colleague"}


def test_the_owning_clinician_sees_only_their_own_cases(owner_clinician, cases):
    assert _visible(owner_clinician, cases) == {"mine"}


def test_a_clinician_who_does_not_own_the_case_does_not_see_it(other_clinician, cases):
    # given a clinician of the same practice whose provider did not order "mine"
    assert _visible(other_clinician, cases) == {"colleague"}


def test_a_delegate_sees_the_cases_of_the_provider_who_named_them(owner_provider, other_clinician, cases):
    # given the owner names the other clinician as a delegate
    owner_provider.delegates.add(other_clinician)
    # then the delegate sees their own cases and the owner's, once each
    assert _visible(other_clinician, cases) == {"mine", "colleague"}
    qs = PriorAuthCase.objects.visible_to(other_clinician)
    assert qs.count() == len(set(qs.values_list("pk", flat=True))) == 2


def test_a_delegate_without_a_provider_of_their_own_sees_only_delegated_cases(practice, owner_provider, cases):
    # e.g. a nurse practitioner covering for a physician
    covering = f.UserFactory(practice=practice, roles=[Role.CLINICIAN])
    owner_provider.delegates.add(covering)
    assert _visible(covering, cases) == {"mine"}


def test_a_delegation_does_not_reach_across_practices(other_practice, owner_provider, cases):
    # given a clinician of another practice wrongly named as a delegate
    stranger = f.UserFactory(practice=other_practice, roles=[Role.CLINICIAN])
    owner_provider.delegates.add(stranger)
    # then they still see nothing of ours
    assert _visible(stranger, cases) == set()


def test_a_user_of_another_practice_sees_only_that_practice(outsider, cases):
    assert _visible(outsider, cases) == {"elsewhere"}


def test_an_anonymous_user_sees_nothing(cases):
    assert _visible(AnonymousUser(), cases) == set()


def test_a_user_without_a_practice_sees_nothing_even_as_superuser(cases):
    user = f.UserFactory(practice=None, roles=[Role.MANAGER], is_superuser=True, is_staff=True)
    assert _visible(user, cases) == set()


def test_a_user_without_a_role_sees_nothing(practice, cases):
    user = f.UserFactory(practice=practice)
    assert _visible(user, cases) == set()


def test_the_answer_is_a_queryset_that_chains_with_the_state_filters(manager, cases):
    # views narrow the visible set with the queue's state methods
    qs = PriorAuthCase.objects.visible_to(manager).open().unassigned()
    assert set(qs.values_list("pk", flat=True)) == {cases["mine"].pk, cases["colleague"].pk}
