"""Access matrix for the sign-in pages: open to everyone, signed in or not."""

import pytest
from django.urls import reverse

from tests.access_matrix import USERS, covers


@covers("login")
@pytest.mark.parametrize("who", USERS)
def test_login_page_is_open_to_everyone(as_user, who):
    assert as_user(who).get(reverse("login")).status_code == 200


@covers("logout")
@pytest.mark.parametrize("who", USERS)
def test_logout_signs_out_and_redirects(as_user, who):
    client = as_user(who)
    # POST only: a link cannot sign you out (anonymous is sent to the login first, like every page)
    assert client.get(reverse("logout")).status_code == (302 if who == "anonymous" else 405)
    assert client.post(reverse("logout")).status_code == 302
    assert "_auth_user_id" not in client.session
