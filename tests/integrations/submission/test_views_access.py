"""Access matrix for the case page's submission fragment (any channel)."""

import pytest
from django.urls import reverse

from tests.access_matrix import USERS, covers

HIDDEN = {"other_clinician", "outsider"}


@covers("submission:case_submission")
@pytest.mark.parametrize("who", USERS)
def test_submission_fragment(as_user, who, case):
    response = as_user(who).get(reverse("submission:case_submission", args=[case.pk]))
    if who == "anonymous":
        assert response.status_code == 302 and "/login/" in response["Location"]
    elif who in HIDDEN:
        assert response.status_code == 404
    elif who == "front_desk":
        assert response.status_code == 403  # minimum necessary: scheduling facts only
    else:
        assert response.status_code == 200
        assert f'id="case-{case.pk}-submission"' in response.content.decode()
