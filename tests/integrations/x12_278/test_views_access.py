"""Access matrix for the eligibility re-run and the sandbox clearinghouse."""

import pytest
from django.test import Client
from django.urls import reverse

from integrations.x12_278.models import Clearinghouse, PayerRoute
from tests.access_matrix import USERS, covers

HIDDEN = {"other_clinician", "outsider"}
MAY_RUN = {"coordinator", "manager"}


@covers("x12_278:case_eligibility")
@pytest.mark.parametrize("who", USERS)
def test_eligibility_rerun(as_user, who, case):
    ch = Clearinghouse(name="CH", endpoint_url="http://127.0.0.1:9/", sender_id="S", receiver_id="R")
    ch.save()
    PayerRoute.objects.create(payer=case.payer, clearinghouse=ch)
    response = as_user(who).post(reverse("x12_278:case_eligibility", args=[case.pk]))
    if who == "anonymous":
        assert response.status_code == 302 and "/login/" in response["Location"]
    elif who in HIDDEN:
        assert response.status_code == 404
    elif who in MAY_RUN:
        assert response.status_code == 302 and response["Location"] == reverse("cases:detail", args=[case.pk])
    else:
        assert response.status_code == 403


@covers("x12_278:sandbox_core")
@pytest.mark.parametrize("who", USERS)
@pytest.mark.parametrize("enabled", [False, True])
def test_sandbox_clearinghouse_ignores_the_staff_session(as_user, who, settings, enabled, db):
    # A machine endpoint: off outside the embedded setup, and the same CORE answer for anyone when on.
    settings.SANDBOX_ENABLED = enabled
    url = reverse("x12_278:sandbox_core")
    response = as_user(who).post(url, {"ProcessingMode": "RealTime"})
    if not enabled:
        assert response.status_code == 404
        return
    assert response.status_code == 400 and b"PayloadTypeRequired" in response.content
    assert response.status_code == Client().post(url, {"ProcessingMode": "RealTime"}).status_code
