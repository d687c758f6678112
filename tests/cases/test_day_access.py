"""The access matrix of the coordinator's-day pages (issue 16): bulk approval, authorizations, units used, the
full-size appeal letter. Same users and rules as tests/cases/test_views_access.py: a case the user may not see is
404 (or simply not touched, for lists of ids), a role without the action 403, anonymous goes to the login."""

import datetime as dt

import pytest
from django.urls import reverse

from cases.models import Status
from tests import factories as f
from tests.access_matrix import USERS, covers

pytestmark = pytest.mark.django_db

HIDDEN = {"other_clinician", "outsider"}


@pytest.fixture(autouse=True)
def _all_users(coordinator, manager, owner_clinician, other_clinician, outsider, front_desk):
    """Every user exists in every test, so role lookups see the whole practice."""


@pytest.fixture
def approved(practice, owner_provider, payer):
    order = f.OrderFactory(practice=practice, ordering_provider=owner_provider)
    return f.CaseFactory(
        order=order,
        payer=payer,
        status=Status.APPROVED,
        authorization_number="AUTH-7781",
        auth_effective_start=dt.date(2026, 1, 1),
        auth_effective_end=dt.date(2026, 6, 30),
        units_approved=12,
    )


@covers("cases:bulk_approve")
@pytest.mark.parametrize("who", USERS)
def test_bulk_approve_is_for_managers(as_user, case, who):
    # given a ready case with nothing blocking it (an attested summary: the gate)
    case.status = Status.READY
    case.save()
    f.gate_met(case)
    # when each user asks to approve it in bulk
    response = as_user(who).post(reverse("cases:bulk_approve"), {"cases": [case.pk]})
    case.refresh_from_db()
    # then only a manager approves it; the rest are refused (or sent to log in)
    if who == "anonymous":
        assert response.status_code == 302 and "/login/" in response["Location"]
    elif who in {"manager", "outsider"}:
        # the outsider manages another practice: may approve in general, sees none of ours, nothing changes
        assert response.status_code == 302
    else:
        assert response.status_code == 403
    assert (case.submission_approved_by_id is not None) == (who == "manager")


@covers("cases:authorizations")
@pytest.mark.parametrize("who", USERS)
def test_authorizations_list_is_for_scheduling_roles(as_user, approved, who):
    response = as_user(who).get(reverse("cases:authorizations"))
    if who == "anonymous":
        assert response.status_code == 302 and "/login/" in response["Location"]
    elif who in {"coordinator", "manager", "front_desk"}:
        assert response.status_code == 200
        assert "AUTH-7781" in response.content.decode()
    elif who == "outsider":
        # a coordinator of another practice: the page, without our authorizations
        assert response.status_code == 200
        assert "AUTH-7781" not in response.content.decode()
    else:
        assert response.status_code == 403


@covers("cases:units_used")
@pytest.mark.parametrize("who", USERS)
def test_units_used_is_recorded_by_scheduling_roles(as_user, approved, who):
    response = as_user(who).post(reverse("cases:units_used", args=[approved.pk]), {"units_used": "3"})
    approved.refresh_from_db()
    if who == "anonymous":
        assert response.status_code == 302 and "/login/" in response["Location"]
    elif who in HIDDEN:
        assert response.status_code == 404
    elif who in {"coordinator", "manager", "front_desk"}:
        assert response.status_code == 302 and response["Location"] == reverse("cases:authorizations")
    else:
        assert response.status_code == 403
    assert (approved.units_used == 3) == (who in {"coordinator", "manager", "front_desk"})


@covers("cases:appeal_letter")
@pytest.mark.parametrize("who", USERS)
def test_appeal_letter_page_and_pdf(as_user, case, who):
    case.status = Status.DENIED
    case.denial_reason_text = "Not medically necessary"
    case.save()
    client = as_user(who)
    page = client.get(reverse("cases:appeal_letter", args=[case.pk]))
    pdf = client.post(reverse("cases:appeal_letter", args=[case.pk]), {"letter": "Dear reviewer,\nPlease reconsider."})
    for response in (page, pdf):
        if who == "anonymous":
            assert response.status_code == 302 and "/login/" in response["Location"]
        elif who in HIDDEN:
            assert response.status_code == 404
        elif who in {"coordinator", "manager"}:
            assert response.status_code == 200
        else:
            assert response.status_code == 403
    if who in {"coordinator", "manager"}:
        assert 'id="appeal-letter"' in page.content.decode()
        assert pdf["Content-Type"] == "application/pdf" and pdf.content.startswith(b"%PDF")
