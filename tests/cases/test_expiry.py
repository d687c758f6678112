"""Watching approved authorizations until they are used (cases/expiry.py), with frozen time."""

import datetime as dt

import pytest
import time_machine
from django_q.models import Schedule

from cases.expiry import EXPIRY_WARNING_DAYS, authorizations_watch
from cases.models import CaseEvent, Order, PriorAuthCase, Status, Task
from cases.tasks import watch_authorizations
from tests.cases.conftest import NY

pytestmark = pytest.mark.django_db

# Monday 23 November 2026, 10:00 in New York.
MONDAY = dt.datetime(2026, 11, 23, 10, 0, tzinfo=NY)
TODAY = MONDAY.date()


def approved(make_case, *, ends, scheduled=None, status=Status.APPROVED, **fields):
    return make_case(
        status,
        scheduled=scheduled,
        authorization_number="AUTH-77",
        auth_effective_start=TODAY - dt.timedelta(days=30),
        auth_effective_end=ends,
        **fields,
    )


def renew_tasks(case):
    return list(Task.objects.filter(case=case, kind=Task.Kind.RENEW_AUTH).order_by("pk"))


def watch(practice, when=MONDAY):
    with time_machine.travel(when, tick=False):
        return authorizations_watch(practice=practice)


@pytest.mark.parametrize(
    ("days_left", "warned"),
    [(0, True), (EXPIRY_WARNING_DAYS, True), (EXPIRY_WARNING_DAYS + 1, False)],
)
def test_an_unscheduled_approval_is_warned_about_inside_the_window(practice, make_case, days_left, warned):
    # given an approval ending in `days_left` days with the service not scheduled
    case = approved(make_case, ends=TODAY + dt.timedelta(days=days_left))
    # when the watch runs
    counts = watch(practice)
    # then a coordinator task exists exactly when the end is inside the warning window
    tasks = renew_tasks(case)
    assert counts["warned"] == int(warned) and len(tasks) == int(warned)
    if warned:
        assert tasks[0].title.startswith(f"Authorization ends {case.auth_effective_end:%m/%d/%Y}")
        assert tasks[0].role == "coordinator" and tasks[0].done_at is None
        assert CaseEvent.objects.filter(case=case, kind=CaseEvent.Kind.TASK, details__task_id=tasks[0].pk).exists()
    assert PriorAuthCase.objects.get(pk=case.pk).status == Status.APPROVED


def test_warning_is_made_once_and_again_for_an_extended_end(practice, make_case):
    # given a warned approval
    case = approved(make_case, ends=TODAY + dt.timedelta(days=5))
    watch(practice)
    # when the watch runs again (a restart, the next hour)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        assert watch(practice)["warned"] == 0
    # then the warned case is not even tried again (no insert that the dedupe key would refuse)
    assert not [q for q in queries.captured_queries if q["sql"].startswith('INSERT INTO "cases_task"')]
    # then there is still one task
    assert len(renew_tasks(case)) == 1
    # and when the payer extends the authorization, the new end date is watched afresh
    PriorAuthCase.objects.filter(pk=case.pk).update(auth_effective_end=TODAY + dt.timedelta(days=12))
    assert watch(practice)["warned"] == 1
    assert len(renew_tasks(case)) == 2


def test_a_service_scheduled_inside_the_period_is_left_alone(practice, make_case):
    # given two approvals whose service is scheduled inside the period: one ending soon, one already ended
    soon = approved(make_case, ends=TODAY + dt.timedelta(days=3), scheduled=TODAY + dt.timedelta(days=2))
    ended = approved(make_case, ends=TODAY - dt.timedelta(days=3), scheduled=TODAY - dt.timedelta(days=5))
    # when the watch runs
    counts = watch(practice)
    # then neither is warned about or expired
    assert counts == {"warned": 0, "expired": 0}
    assert not renew_tasks(soon) and not renew_tasks(ended)
    assert PriorAuthCase.objects.get(pk=ended.pk).status == Status.APPROVED


def test_a_service_scheduled_after_the_end_counts_as_unused(practice, make_case):
    # given an approval ending in 4 days with the service booked in 10
    case = approved(make_case, ends=TODAY + dt.timedelta(days=4), scheduled=TODAY + dt.timedelta(days=10))
    # when the watch runs
    watch(practice)
    # then staff are told the booking falls after the end
    (task,) = renew_tasks(case)
    assert "after it ends" in task.detail and "AUTH-77" in task.detail


def test_an_approval_that_ended_unused_expires_once_with_a_task(practice, make_case):
    # given a partial approval that ended yesterday, never scheduled
    case = approved(make_case, ends=TODAY - dt.timedelta(days=1), status=Status.PARTIALLY_APPROVED)
    # when the watch runs twice
    first = watch(practice)
    second = watch(practice)
    # then the case expired once, by the system, with the end date on the timeline
    stored = PriorAuthCase.objects.get(pk=case.pk)
    assert (first["expired"], second["expired"]) == (1, 0)
    assert stored.status == Status.EXPIRED
    assert stored.closed_at == MONDAY
    (event,) = CaseEvent.objects.filter(case=case, kind=CaseEvent.Kind.STATUS, to_status=Status.EXPIRED)
    assert event.actor_id is None and event.from_status == Status.PARTIALLY_APPROVED
    assert "11/22/2026" in event.message
    # and one coordinator task to request a new authorization
    (task,) = renew_tasks(case)
    assert task.title.startswith("Authorization expired 11/22/2026")


def test_the_end_date_is_the_practice_local_day(practice, make_case):
    # given an approval that ends today (23 November) in New York
    case = approved(make_case, ends=TODAY)
    # when the watch runs at 23:30 New York time (already 24 November in UTC)
    watch(practice, dt.datetime(2026, 11, 23, 23, 30, tzinfo=NY))
    # then it has not expired: the last day is not over where the practice is
    assert PriorAuthCase.objects.get(pk=case.pk).status == Status.APPROVED
    # when it runs at 00:30 the next local day
    watch(practice, dt.datetime(2026, 11, 24, 0, 30, tzinfo=NY))
    # then it has
    assert PriorAuthCase.objects.get(pk=case.pk).status == Status.EXPIRED


def test_closed_and_other_practices_cases_are_not_touched(practice, other_practice, make_case):
    # given a closed case with an ended authorization, and another practice's ended approval
    closed = approved(make_case, ends=TODAY - dt.timedelta(days=2), status=Status.CLOSED)
    from tests import factories as f

    order = f.OrderFactory(practice=other_practice)
    theirs = f.CaseFactory(order=order, status=Status.APPROVED, auth_effective_end=TODAY - dt.timedelta(days=2))
    # when this practice's watch runs
    watch(practice)
    # then neither changed
    assert PriorAuthCase.objects.get(pk=closed.pk).status == Status.CLOSED
    assert PriorAuthCase.objects.get(pk=theirs.pk).status == Status.APPROVED
    assert not renew_tasks(closed) and not renew_tasks(theirs)


def test_an_emergency_order_is_not_expired_by_the_system_but_staff_are_told(practice, make_case):
    # given an emergency order's approval that ended unused
    case = approved(make_case, ends=TODAY - dt.timedelta(days=1))
    Order.objects.filter(pk=case.order_id).update(priority=Order.Priority.EMERGENCY)
    # when the watch runs
    counts = watch(practice)
    # then a person decides: the status stays, a task is made
    assert counts["expired"] == 0
    assert PriorAuthCase.objects.get(pk=case.pk).status == Status.APPROVED
    assert len(renew_tasks(case)) == 1


def test_the_hourly_schedule_runs_every_practice(practice, other_practice, make_case):
    # given the migration's schedule and an ended approval in this practice
    schedule = Schedule.objects.get(func="cases.tasks.watch_authorizations")
    assert schedule.schedule_type == Schedule.HOURLY and schedule.repeats == -1
    case = approved(make_case, ends=TODAY - dt.timedelta(days=1))
    # when the scheduled function runs
    with time_machine.travel(MONDAY, tick=False):
        totals = watch_authorizations()
    # then it expired the case
    assert totals["expired"] == 1
    assert PriorAuthCase.objects.get(pk=case.pk).status == Status.EXPIRED
