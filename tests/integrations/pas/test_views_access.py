"""Access matrix for payer notifications and the PAS sandbox."""

import pytest
from django.test import Client
from django.urls import reverse

from tests.access_matrix import USERS, covers

HIDDEN = {"other_clinician", "outsider"}


@covers("pas:notify")
@pytest.mark.parametrize("who", USERS)
def test_notify_needs_the_payer_secret_not_a_session(as_user, who, payer):
    response = as_user(who).post(reverse("pas:notify", args=[payer.pk]), "{}", content_type="application/json")
    assert response.status_code == 401


@pytest.mark.parametrize("who", USERS)
@pytest.mark.parametrize(
    "name, args, method",
    [
        pytest.param("pas:sandbox_operation", ["harbor", "submit"], "post", marks=covers("pas:sandbox_operation")),
        pytest.param("pas:sandbox_subscriptions", ["harbor"], "post", marks=covers("pas:sandbox_subscriptions")),
        pytest.param("pas:sandbox_subscription", ["harbor", 1], "get", marks=covers("pas:sandbox_subscription")),
        pytest.param("pas:sandbox_token", ["harbor"], "post", marks=covers("pas:sandbox_token")),
    ],
)
@pytest.mark.parametrize("enabled", [False, True])
def test_sandbox_ignores_the_staff_session(as_user, who, settings, sandbox_payer, name, args, method, enabled):
    # A machine endpoint: off outside the embedded setup, and the same answer for anyone when on.
    settings.SANDBOX_ENABLED = enabled
    url = reverse(name, args=args)

    def call(client):
        return getattr(client, method)(url, *(["{}"] if method == "post" else []), content_type="application/fhir+json")

    response = call(as_user(who))
    if not enabled:
        assert response.status_code == 404
        return
    assert response.status_code != 302
    assert response.status_code == call(Client()).status_code
