"""Access matrix row for the favicon: open to everyone, signed in or not (no PHI, no login)."""

import pytest
from django.urls import reverse

from tests.access_matrix import USERS, covers


@covers("favicon")
@pytest.mark.parametrize("who", USERS)
def test_favicon_is_served_to_anyone(as_user, who):
    # every page links the SVG icon; browsers that ask /favicon.ico anyway are sent to it
    response = as_user(who).get(reverse("favicon"))
    assert response.status_code == 301
    assert response["Location"].endswith("favicon.svg")
