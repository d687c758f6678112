"""Access matrix for the inbound fax inbox, a received fax, its PDF, filing and recording it, and the
fax service's machine endpoints. Only coordinators and managers of the practice see received faxes:
another role gets 403, another practice's staff 404 (the fax does not exist for them)."""

import pytest
from django.urls import reverse

from cases.models import Status
from integrations.fax.models import InboundFax
from integrations.fax.sandbox import sandbox_receive
from tests.access_matrix import USERS, covers
from tests.integrations.fax.conftest import make_pdf

ALLOWED = {"coordinator", "manager"}


@pytest.fixture
def inbox_fax(fax_case, django_capture_on_commit_callbacks):
    type(fax_case).objects.filter(pk=fax_case.pk).update(status=Status.SUBMITTED)
    with django_capture_on_commit_callbacks(execute=True):
        vendor_id = sandbox_receive(to="+15550104401", content=make_pdf("Unreadable letterhead", "Approved"))
    return InboundFax.objects.get(vendor_fax_id=vendor_id)


def _expected(who, *, practice_object=True):
    if who == "anonymous":
        return 302
    if who == "outsider":  # a manager elsewhere: our fax does not exist for them
        return 404 if practice_object else 200
    return 200 if who in ALLOWED else 403


@covers("fax:inbox")
@pytest.mark.parametrize("who", USERS)
def test_inbox(as_user, who, inbox_fax):
    response = as_user(who).get(reverse("fax:inbox"))
    assert response.status_code == _expected(who, practice_object=False)
    if response.status_code == 200:
        assert (f'id="fax-{inbox_fax.pk}"' in response.content.decode()) == (who in ALLOWED)


@pytest.mark.parametrize("who", USERS)
@pytest.mark.parametrize("name", [pytest.param(n, marks=covers(n)) for n in ("fax:detail", "fax:pdf")])
def test_fax_and_its_pdf(as_user, who, name, inbox_fax):
    response = as_user(who).get(reverse(name, args=[inbox_fax.pk]))
    assert response.status_code == _expected(who)
    if name == "fax:pdf" and response.status_code == 200:
        assert response["Content-Type"] == "application/pdf"


@covers("fax:file")
@pytest.mark.parametrize("who", USERS)
def test_filing(as_user, who, inbox_fax, fax_case):
    response = as_user(who).post(reverse("fax:file", args=[inbox_fax.pk]), {"case": fax_case.pk})
    inbox_fax.refresh_from_db()
    if who in ALLOWED:
        assert response.status_code == 302 and inbox_fax.case_id == fax_case.pk
    else:
        assert response.status_code == _expected(who) and inbox_fax.case_id is None


@covers("fax:record")
@pytest.mark.parametrize("who", USERS)
def test_recording(as_user, who, inbox_fax, fax_case, coordinator):
    from integrations.fax.services import inbound_file

    inbound_file(fax=inbox_fax, case=fax_case, actor=coordinator, matched_by=InboundFax.MatchedBy.STAFF)
    response = as_user(who).post(
        reverse("fax:record", args=[inbox_fax.pk]),
        {"outcome": "approved", "authorization_number": "A-1", "effective_start": "2026-03-01"},
    )
    fax_case.refresh_from_db()
    if who in ALLOWED:
        assert response.status_code == 302, response.content.decode()[-3000:]
        assert fax_case.status == Status.APPROVED
    else:
        assert response.status_code == _expected(who) and fax_case.status == Status.SUBMITTED


@covers("fax:events")
@pytest.mark.parametrize("who", USERS)
def test_events_need_the_signature_not_a_session(as_user, who, fax_case):
    response = as_user(who).post(reverse("fax:events"), b'{"data": {}}', content_type="application/json")
    assert response.status_code == 403


@covers("fax:media")
@pytest.mark.parametrize("who", USERS)
def test_media_needs_the_token_not_a_session(as_user, who, fax_case):
    assert as_user(who).get(reverse("fax:media", args=["guessed-token"])).status_code == 404


def test_inbox_lists_faxes_in_a_fixed_number_of_queries(client, coordinator, inbox_fax, django_assert_max_num_queries):
    client.force_login(coordinator)
    # session, user, the user's groups (role check), the faxes with case and patient; the context processors';
    # the access-log row (one INSERT).
    with django_assert_max_num_queries(9):
        response = client.get(reverse("fax:inbox"))
    assert f"fax-{inbox_fax.pk}" in response.content.decode()


def test_search_finds_the_case_by_member_id_birth_date_name_and_mrn(client, coordinator, inbox_fax, fax_case):
    client.force_login(coordinator)
    for q in ("XZW448812", fax_case.patient.birth_date.strftime("%m/%d/%Y"), "abernathy", "MRN-7741"):
        response = client.post(reverse("fax:detail", args=[inbox_fax.pk]), {"q": q})
        assert f'name="case" value="{fax_case.pk}"' in response.content.decode(), q
