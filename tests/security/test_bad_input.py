"""Bad input from signed-in staff gets a clear 4xx, never a 500 (issue 18 item 8).

Each test was written first against the behaviour it names and failed then.
"""

import datetime as dt

import pytest

from cases.models import Bucket, Status, Task
from cases.sweep.services import sweep_run
from tests import factories as f


@pytest.fixture
def swept(practice, case):
    case.status = Status.READY
    case.save()
    return sweep_run(practice=practice)


def test_sweep_assign_with_a_non_numeric_assignee_is_a_404_not_a_500(client, manager, swept):
    # given a manager on the sweep page
    client.force_login(manager)
    # when the assignee is not a number
    response = client.post(
        f"/sweep/{swept.pk}/assign/", {"bucket": Bucket.READY_TO_SUBMIT, "assignee": "abc", "scope": "bucket"}
    )
    # then it is refused as an unknown person
    assert response.status_code == 404


@pytest.mark.parametrize(
    "query",
    [
        "date_from=0001-01-01&date_to=2026-11-30",
        "date_from=2026-11-01&date_to=9999-12-31",
        "date_from=1900-01-01&date_to=2026-11-30",
    ],
)
def test_dashboard_refuses_implausible_periods(client, manager, query):
    client.force_login(manager)
    response = client.get(f"/dashboard/?{query}")
    assert response.status_code == 400
    assert "between 2000-01-01 and 2100-12-31" in response.content.decode()


def test_task_answer_over_the_limit_is_refused_and_the_task_stays_open(client, case, coordinator):
    # given an open task of the coordinator's
    task = f.TaskFactory(case=case, assignee=coordinator, role="coordinator")
    client.force_login(coordinator)
    # when the answer is longer than the field allows
    response = client.post(f"/tasks/{task.pk}/complete/", {"note": "x" * 4001}, follow=True)
    # then nothing is done and the person is told why
    task.refresh_from_db()
    assert task.done_at is None
    assert "at most 4000 characters" in response.content.decode()
    assert not case.events.filter(message__contains="xxxx").exists()


def test_task_answer_over_the_limit_from_htmx_is_a_400(client, case, coordinator):
    task = f.TaskFactory(case=case, assignee=coordinator, role="coordinator")
    client.force_login(coordinator)
    response = client.post(f"/tasks/{task.pk}/complete/", {"note": "x" * 4001}, HTTP_HX_REQUEST="true")
    assert response.status_code == 400
    assert "at most 4000 characters" in response.content.decode()
    task.refresh_from_db()
    assert task.done_at is None


@pytest.mark.parametrize("due", ["0001-01-01", "9999-12-31", "1850-03-01"])
def test_implausible_due_date_is_refused(client, case, manager, due):
    client.force_login(manager)
    response = client.post(f"/cases/{case.pk}/request-input/", {"question": "HbA1c?", "due": due}, follow=True)
    assert response.status_code == 200
    assert "between" in response.content.decode()
    assert not Task.objects.filter(case=case, kind=Task.Kind.CLINICIAN_INPUT).exists()


def test_implausible_outcome_dates_are_refused(client, case, coordinator):
    case.status = Status.SUBMITTED
    case.save()
    client.force_login(coordinator)
    response = client.post(
        f"/cases/{case.pk}/outcome/",
        {"outcome": "approved", "authorization_number": "A1", "effective_start": "0001-01-01"},
        follow=True,
    )
    assert "between" in response.content.decode()
    case.refresh_from_db()
    assert case.status == Status.SUBMITTED


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("bucket=nonsense", "Status"),
        ("payer=abc", "Payer"),
        ("assignee=999999", "Assignee"),
        ("sort=drop_table", "Sort"),
        ("view=everything", "View"),
    ],
)
def test_invalid_queue_filters_say_so(client, case, manager, query, field):
    client.force_login(manager)
    response = client.get(f"/?{query}")
    assert response.status_code == 400
    body = response.content.decode()
    assert field in body and "not one of the available choices" in body.lower() or "valid choice" in body.lower()


def test_birth_date_in_the_future_is_refused_on_order_entry(client, coordinator, owner_provider, payer):
    client.force_login(coordinator)
    future = (dt.date.today() + dt.timedelta(days=400)).isoformat()
    response = client.post(
        "/orders/new/",
        {
            "first_name": "Ann",
            "last_name": "Lee",
            "birth_date": future,
            "mrn": "M-1",
            "payer": payer.pk,
            "member_id": "X1",
            "ordering_provider": owner_provider.pk,
            "kind": "service",
            "code_system": "CPT",
            "code": "72148",
            "description": "MRI",
            "quantity": "1",
            "priority": "routine",
            "requested_date": "2026-12-01",
        },
    )
    assert response.status_code in (200, 400)
    assert "between" in response.content.decode()
