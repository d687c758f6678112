"""Access matrix for order entry and the embedded EHR sandbox."""

import pytest
from django.urls import reverse

from tests.access_matrix import USERS, covers

# Order entry is a page with no object yet: a role without it gets 403, not 404.
ENTERS_ORDERS = {"coordinator", "manager", "outsider"}  # the outsider enters orders for their own practice


@covers("cases:order_new")
@pytest.mark.parametrize("who", USERS)
def test_order_entry(as_user, who):
    response = as_user(who).get(reverse("cases:order_new"))
    if who == "anonymous":
        assert response.status_code == 302 and "/login/" in response["Location"]
    elif who in ENTERS_ORDERS:
        assert response.status_code == 200
        assert 'name="ordering_provider"' in response.content.decode()
    else:
        assert response.status_code == 403


@covers("cases:order_new")
def test_order_entry_links_only_for_those_who_may(as_user):
    assert "New order" in as_user("coordinator").get(reverse("cases:queue")).content.decode()
    assert "New order" not in as_user("front_desk").get(reverse("cases:queue")).content.decode()
    assert as_user("front_desk").post(reverse("cases:order_new"), {}).status_code == 403


@covers("ehr_fhir:sandbox_fhir", "ehr_fhir:sandbox_token")
@pytest.mark.parametrize("who", USERS)
@pytest.mark.parametrize("enabled", [False, True])
def test_sandbox_ignores_the_staff_session(as_user, who, settings, enabled):
    # A machine endpoint: no login, and a staff session opens nothing more (reads need the EHR's bearer token).
    settings.SANDBOX_ENABLED = enabled
    client = as_user(who)
    response = client.get(reverse("ehr_fhir:sandbox_fhir", args=["metadata"]))
    assert response.status_code == (200 if enabled else 404)
    response = client.get(reverse("ehr_fhir:sandbox_fhir", args=["Patient"]))
    assert response.status_code == (401 if enabled else 404)
    response = client.post(reverse("ehr_fhir:sandbox_token"), {"grant_type": "client_credentials"})
    assert response.status_code == (400 if enabled else 404)
