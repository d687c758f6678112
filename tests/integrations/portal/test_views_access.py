"""Access matrix for the portal guide and recording a portal submission."""

import pytest
from django.urls import reverse

from cases.models import Status
from tests.access_matrix import USERS, covers
from tests.integrations.portal.test_guide import portal_case  # noqa: F401 - the fixture

HIDDEN = {"other_clinician", "outsider"}


def _expected(who):
    if who == "anonymous":
        return 302
    if who in HIDDEN:
        return 404
    return None if who in ("coordinator", "manager") else 403


@covers("portal:guide")
@pytest.mark.parametrize("who", USERS)
def test_guide(as_user, who, portal_case):  # noqa: F811
    response = as_user(who).get(reverse("portal:guide", args=[portal_case.pk]))
    assert response.status_code == (_expected(who) or 200)


@covers("portal:submitted")
@pytest.mark.parametrize("who", USERS)
def test_record_submitted(as_user, who, portal_case, coordinator, settings, tmp_path):  # noqa: F811
    from cases import actions

    settings.MEDIA_ROOT = tmp_path
    actions.case_submit(case=portal_case, actor=coordinator)
    response = as_user(who).post(reverse("portal:submitted", args=[portal_case.pk]), {"payer_reference": "W-1"})
    portal_case.refresh_from_db()
    if _expected(who) is None:
        assert response.status_code == 302 and portal_case.status == Status.SUBMITTED
    else:
        assert response.status_code == _expected(who) and portal_case.status == Status.READY
