"""Find any case, open or closed: by patient name in either order, MRN, member id, authorization number or the
payer's reference (issue 16 item 4). The queue without a search term stays open work."""

import datetime as dt

import pytest
from django.urls import reverse

from cases.models import PriorAuthCase, Status
from tests import factories as f

pytestmark = pytest.mark.django_db


@pytest.fixture
def ruth(practice, owner_provider, payer):
    patient = f.PatientFactory(practice=practice, first_name="Ruth", last_name="Eastwood", mrn="MRN-4471")
    f.CoverageFactory(patient=patient, payer=payer, member_id="XK55120")
    order = f.OrderFactory(practice=practice, patient=patient, ordering_provider=owner_provider)
    return f.CaseFactory(
        order=order,
        payer=payer,
        status=Status.APPROVED,
        authorization_number="AUTH-99172",
        payer_tracking_id="TRK-000417",
        auth_effective_start=dt.date(2026, 1, 5),
    )


@pytest.fixture
def someone_else(practice, owner_provider, payer):
    patient = f.PatientFactory(practice=practice, first_name="Walter", last_name="Ruthers", mrn="MRN-1")
    order = f.OrderFactory(practice=practice, patient=patient, ordering_provider=owner_provider)
    return f.CaseFactory(order=order, payer=payer, status=Status.GATHERING)


@pytest.mark.parametrize(
    "text",
    [
        "Eastwood, Ruth",
        "Ruth Eastwood",
        "eastwood ruth",
        "MRN-4471",
        "xk55120",
        "AUTH-99172",
        "auth-99172",
        "TRK-000417",
    ],
)
def test_search_finds_a_closed_case_by_each_identifier(ruth, someone_else, text):
    # given an approved (closed) case and another patient whose name shares letters
    # when staff search by how they know the patient or the authorization
    found = set(PriorAuthCase.objects.search(text).values_list("pk", flat=True))
    # then that case and only that case is found
    assert found == {ruth.pk}


def test_every_word_must_match(ruth, someone_else):
    # "Ruth" alone matches both (Ruth Eastwood, Walter Ruthers); with the last name only one
    assert set(PriorAuthCase.objects.search("Ruth").values_list("pk", flat=True)) == {ruth.pk, someone_else.pk}
    assert set(PriorAuthCase.objects.search("Ruth, Eastwood").values_list("pk", flat=True)) == {ruth.pk}
    assert not PriorAuthCase.objects.search("Eastwood Walter").exists()


def test_queue_search_reaches_closed_cases_and_the_plain_queue_does_not(client, coordinator, ruth, someone_else):
    client.force_login(coordinator)
    # given the queue with no search: open work only
    plain = client.get(reverse("cases:queue"), {"view": "all"}).content.decode()
    assert f'id="case-{someone_else.pk}"' in plain
    assert f'id="case-{ruth.pk}"' not in plain
    # when the coordinator searches the authorization number, as the search box invites (posted: the words stay
    # out of the URL)
    found = client.post(reverse("cases:queue"), {"view": "all", "q": "AUTH-99172"}, follow=True).content.decode()
    # then the approved case is listed, with its status and authorization number
    assert f'id="case-{ruth.pk}"' in found
    assert "Approved" in found and "Auth # AUTH-99172" in found
    assert f'id="case-{someone_else.pk}"' not in found


def test_a_search_matching_nothing_says_so(client, coordinator, ruth):
    client.force_login(coordinator)
    page = client.post(reverse("cases:queue"), {"view": "all", "q": "Nobody Here"}, follow=True).content.decode()
    assert "No case, open or closed, matches." in page


def test_search_stays_inside_what_the_user_may_see(client, other_clinician, ruth):
    # a clinician who does not own the case does not find it, even by its exact authorization number
    client.force_login(other_clinician)
    page = client.post(reverse("cases:queue"), {"view": "all", "q": "AUTH-99172"}, follow=True).content.decode()
    assert f'id="case-{ruth.pk}"' not in page


def test_search_from_my_work_finds_a_colleagues_case(client, coordinator, practice, ruth):
    # given the approval is assigned to a colleague, and the coordinator's queue shows "my work + unassigned"
    ruth.assignee = f.UserFactory(practice=practice, roles=["coordinator"])
    ruth.save()
    client.force_login(coordinator)
    # when they search its authorization number from their default view
    page = client.post(reverse("cases:queue"), {"q": "AUTH-99172"}, follow=True).content.decode()
    # then it is found all the same: a search is not limited to the view
    assert f'id="case-{ruth.pk}"' in page
