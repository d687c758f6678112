"""Access matrix for the sweep page, its actions and the metrics dashboard.

What each role sees *on* the sweep page is tested in test_sweep_views.py; here
is only who gets in, by the one rule of cases/permissions.py: a role that may
not take the action gets 403; an object of another practice (a sweep, a sweep
item) is 404, so its existence does not leak.
"""

import datetime as dt

import pytest
from django.urls import reverse

from cases.models import Bucket, CaseEvent, Status, SweepItem
from cases.sweep.services import sweep_run
from tests.access_matrix import USERS, covers
from tests.cases.conftest import WEDNESDAY_0730

MANAGERS = {"manager", "outsider"}  # the outsider manages another practice: their own sweep, not ours


@pytest.fixture
def swept(time_machine, practice, make_case, coordinator):
    time_machine.move_to(WEDNESDAY_0730, tick=False)
    make_case(Status.READY)
    make_case(Status.GATHERING, scheduled=dt.date(2026, 11, 20))
    return sweep_run(practice=practice)


def _login_or(response, who):
    if who == "anonymous":
        assert response.status_code == 302 and "/login/" in response["Location"]
        return True
    return False


@covers("sweep:page")
@pytest.mark.parametrize("who", USERS)
def test_sweep_page(as_user, who, swept):
    response = as_user(who).get(reverse("sweep:page"))
    if not _login_or(response, who):
        assert response.status_code == 200


@covers("sweep:run")
@pytest.mark.parametrize("who", USERS)
def test_run_sweep_now(as_user, who, swept):
    response = as_user(who).post(reverse("sweep:run"))
    if not _login_or(response, who):
        assert response.status_code == (302 if who in MANAGERS else 403)


@covers("sweep:assign")
@pytest.mark.parametrize("who", USERS)
def test_assign_a_bucket(as_user, who, swept, coordinator):
    data = {"bucket": Bucket.READY_TO_SUBMIT, "assignee": coordinator.pk, "scope": "bucket"}
    response = as_user(who).post(reverse("sweep:assign", args=[swept.pk]), data)
    assigned = CaseEvent.objects.filter(kind=CaseEvent.Kind.ASSIGNED).exists()
    if not _login_or(response, who):
        # the outsider is a manager, but our sweep is not theirs: 404; other roles may not assign: 403
        assert response.status_code == {"manager": 302, "outsider": 404}.get(who, 403)
    assert assigned == (who == "manager")


@covers("sweep:reschedule")
@pytest.mark.parametrize("who", USERS)
def test_reschedule_task(as_user, who, swept):
    item = SweepItem.objects.get(sweep=swept, bucket=Bucket.SCHEDULE_AT_RISK)
    response = as_user(who).post(reverse("sweep:reschedule", args=[item.pk]))
    if not _login_or(response, who):
        # our sweep item is not the outsider's (404); the other roles may not ask for a reschedule (403)
        assert response.status_code == {"manager": 302, "front_desk": 302, "outsider": 404}.get(who, 403)
    assert item.case.tasks.exists() == (who in {"manager", "front_desk"})


@covers("metrics:dashboard")
@pytest.mark.parametrize("who", USERS)
def test_dashboard(as_user, who, practice):
    response = as_user(who).get(reverse("metrics:dashboard"))
    if not _login_or(response, who):
        assert response.status_code == (200 if who in MANAGERS else 403)
