"""Only coordinators and managers of the practice see the fax inbox, a received fax and its PDF,
and only they file it and record what it says."""

import pytest

from cases.models import Status
from integrations.fax.models import InboundFax
from integrations.fax.sandbox import sandbox_receive
from tests.integrations.fax.conftest import make_pdf

pytestmark = pytest.mark.django_db
ALLOWED = {"coordinator", "manager"}
MATRIX = ["coordinator", "manager", "owner_clinician", "other_clinician", "front_desk", "outsider"]


@pytest.fixture
def inbox_fax(fax_case, django_capture_on_commit_callbacks):
    type(fax_case).objects.filter(pk=fax_case.pk).update(status=Status.SUBMITTED)
    with django_capture_on_commit_callbacks(execute=True):
        vendor_id = sandbox_receive(to="+15550104401", content=make_pdf("Unreadable letterhead", "Approved"))
    return InboundFax.objects.get(vendor_fax_id=vendor_id)


@pytest.mark.parametrize("who", MATRIX)
def test_inbox_detail_and_pdf(who, request, client, inbox_fax):
    client.force_login(request.getfixturevalue(who))
    expected = 200 if who in ALLOWED else 404
    inbox = client.get("/faxes/inbox/")
    if who == "outsider":  # a manager elsewhere has an inbox of their own, without our fax
        assert inbox.status_code == 200 and f"fax-{inbox_fax.pk}" not in inbox.content.decode()
    else:
        assert inbox.status_code == expected
    assert client.get(f"/faxes/{inbox_fax.pk}/").status_code == expected
    response = client.get(f"/faxes/{inbox_fax.pk}/pdf")
    assert response.status_code == expected
    if expected == 200:
        assert response["Content-Type"] == "application/pdf"


@pytest.mark.parametrize("who", MATRIX)
def test_filing(who, request, client, inbox_fax, fax_case):
    client.force_login(request.getfixturevalue(who))
    response = client.post(f"/faxes/{inbox_fax.pk}/file", {"case": fax_case.pk})
    inbox_fax.refresh_from_db()
    if who in ALLOWED:
        assert response.status_code == 302 and inbox_fax.case_id == fax_case.pk
    else:
        assert response.status_code == 404 and inbox_fax.case_id is None


def test_anonymous_is_sent_to_login(client, inbox_fax):
    assert client.get("/faxes/inbox/").status_code == 302
    assert client.get(f"/faxes/{inbox_fax.pk}/pdf").status_code == 302


def test_inbox_lists_the_fax_in_a_fixed_number_of_queries(client, coordinator, inbox_fax, django_assert_max_num_queries):
    client.force_login(coordinator)
    # session, user, the user's groups (role check), the faxes with case and patient; the context processors'.
    with django_assert_max_num_queries(8):
        response = client.get("/faxes/inbox/")
    assert f"fax-{inbox_fax.pk}" in response.content.decode()


def test_search_finds_the_case_by_member_id_and_birth_date(client, coordinator, inbox_fax, fax_case):
    client.force_login(coordinator)
    for q in ("XZW448812", fax_case.patient.birth_date.strftime("%m/%d/%Y"), "abernathy", "MRN-7741"):
        response = client.get(f"/faxes/{inbox_fax.pk}/", {"q": q})
        assert f'name="case" value="{fax_case.pk}"' in response.content.decode(), q
