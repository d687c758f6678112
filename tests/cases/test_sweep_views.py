"""Who sees what on the sweep page, bulk assignment, the reschedule task, the digest and run_sweep."""

import datetime as dt
import json
from io import StringIO

import pytest
from django.core import mail
from django.core.management import call_command
from django.urls import reverse

from cases.models import Bucket, CaseEvent, Role, Status, Sweep, SweepItem, SweepSettings, Task
from cases.permissions import role_allows
from cases.sweep.digest import digest_send
from cases.sweep.services import sweep_changes, sweep_run
from tests import factories as f
from tests.cases.conftest import WEDNESDAY_0730


@pytest.fixture
def swept(time_machine, practice, make_case, coordinator, other_clinician):
    """A sweep with one case per interesting shape; returns (sweep, cases by name)."""
    time_machine.move_to(WEDNESDAY_0730, tick=False)
    cases = {
        "mine": make_case(Status.READY, assignee=coordinator),
        "unassigned": make_case(Status.READY),
        "someone_else": make_case(Status.READY, assignee=f.UserFactory(practice=practice, roles=[Role.COORDINATOR])),
        "clinician": make_case(Status.NEEDS_CLINICIAN),
        "other_doctor": make_case(Status.NEEDS_CLINICIAN, provider=other_clinician.provider),
        "at_risk": make_case(Status.GATHERING, scheduled=dt.date(2026, 11, 20)),
    }
    return sweep_run(practice=practice), cases


def visible_cases(user, bucket=None):
    items = SweepItem.objects.visible_to(user)
    if bucket:
        items = items.filter(bucket=bucket)
    return set(items.values_list("case_id", flat=True))


def test_manager_sees_every_item(swept, manager):
    sweep, cases = swept
    assert visible_cases(manager) == {c.pk for c in cases.values()}


def test_coordinator_sees_own_and_unassigned_only(swept, coordinator):
    _, cases = swept
    seen = visible_cases(coordinator)
    assert cases["mine"].pk in seen and cases["unassigned"].pk in seen
    assert cases["someone_else"].pk not in seen


def test_front_desk_sees_schedule_at_risk_only(swept, front_desk):
    _, cases = swept
    assert set(SweepItem.objects.visible_to(front_desk).values_list("bucket", flat=True)) == {Bucket.SCHEDULE_AT_RISK}
    assert visible_cases(front_desk) == {cases["at_risk"].pk}


def test_clinician_sees_only_clinician_items_of_their_own_cases(swept, owner_clinician, other_clinician):
    _, cases = swept
    assert visible_cases(owner_clinician) == {cases["clinician"].pk}
    assert visible_cases(other_clinician) == {cases["other_doctor"].pk}


def test_other_practice_sees_nothing(swept, outsider, client):
    assert visible_cases(outsider) == set()
    client.force_login(outsider)
    response = client.get("/sweep/")
    assert response.status_code == 200
    assert "No sweep has run yet" in response.content.decode()


@pytest.mark.parametrize(
    ("user_fixture", "shown", "hidden"),
    [
        ("manager", ["mine", "someone_else"], []),
        ("coordinator", ["mine"], ["someone_else"]),
    ],
)
def test_sweep_page_lists_items_per_role(
    swept, client, request, user_fixture, shown, hidden, django_assert_max_num_queries
):
    sweep, cases = swept
    client.force_login(request.getfixturevalue(user_fixture))
    # session, user, groups, latest sweep + practice, bucket counts, previous sweep, item count, practice (header),
    # one page of items joined to case/patient/order/payer/assignee, their summary rows (holidays + one per
    # bucket shown), assignable users, session save (3); a manager's page also reads the background heartbeat
    # (the "background work is stalled" banner)
    # (+1: the access-log row for the bucket's cases, one INSERT)
    with django_assert_max_num_queries(17 if user_fixture == "manager" else 16):
        response = client.get("/sweep/?bucket=ready_to_submit")
    body = response.content.decode()
    for name in shown:
        assert f'id="sweep-item-{sweep.items.get(case=cases[name]).pk}"' in body
    for name in hidden:
        assert f'id="sweep-item-{sweep.items.get(case=cases[name]).pk}"' not in body


def test_front_desk_page_shows_appointment_and_creates_a_reschedule_task_once(swept, client, front_desk):
    sweep, cases = swept
    client.force_login(front_desk)
    body = client.get("/sweep/").content.decode()
    assert "Fri Nov 20" in body and "Reschedule task" in body
    item = sweep.items.get(case=cases["at_risk"], bucket=Bucket.SCHEDULE_AT_RISK)
    client.post(f"/sweep/items/{item.pk}/reschedule/")
    client.post(f"/sweep/items/{item.pk}/reschedule/")
    task = Task.objects.get(case=cases["at_risk"], kind=Task.Kind.RESCHEDULE)
    assert task.role == Role.FRONT_DESK
    assert "reschedule task open" in client.get("/sweep/").content.decode()


def test_coordinator_cannot_create_reschedule_tasks_or_bulk_assign(swept, client, coordinator):
    sweep, cases = swept
    client.force_login(coordinator)
    item = sweep.items.get(case=cases["at_risk"], bucket=Bucket.SCHEDULE_AT_RISK)
    assert client.post(f"/sweep/items/{item.pk}/reschedule/").status_code == 403  # a role refusal
    response = client.post(
        f"/sweep/{sweep.pk}/assign/", {"bucket": Bucket.READY_TO_SUBMIT, "assignee": coordinator.pk, "scope": "bucket"}
    )
    assert response.status_code == 403
    assert client.post("/sweep/run/").status_code == 403


def test_manager_bulk_assigns_a_whole_bucket_on_the_timeline(swept, client, manager, coordinator):
    sweep, cases = swept
    client.force_login(manager)
    response = client.post(
        f"/sweep/{sweep.pk}/assign/", {"bucket": Bucket.READY_TO_SUBMIT, "assignee": coordinator.pk, "scope": "bucket"}
    )
    assert response.status_code == 302
    for name in ("mine", "unassigned", "someone_else"):
        cases[name].refresh_from_db()
        assert cases[name].assignee == coordinator
    # the one already assigned to the coordinator is not re-assigned; the two others are on their timelines
    assert CaseEvent.objects.filter(kind=CaseEvent.Kind.ASSIGNED, actor=manager).count() == 2
    cases["clinician"].refresh_from_db()
    assert cases["clinician"].assignee is None


def test_manager_assigns_selected_cases_only(swept, client, manager, coordinator):
    sweep, cases = swept
    client.force_login(manager)
    client.post(
        f"/sweep/{sweep.pk}/assign/",
        {
            "bucket": Bucket.READY_TO_SUBMIT,
            "assignee": coordinator.pk,
            "scope": "selected",
            "case": [cases["unassigned"].pk],
        },
    )
    cases["unassigned"].refresh_from_db()
    cases["someone_else"].refresh_from_db()
    assert cases["unassigned"].assignee == coordinator
    assert cases["someone_else"].assignee != coordinator


def test_manager_cannot_assign_to_another_practices_user(swept, client, manager, outsider):
    sweep, _ = swept
    client.force_login(manager)
    response = client.post(
        f"/sweep/{sweep.pk}/assign/", {"bucket": Bucket.READY_TO_SUBMIT, "assignee": outsider.pk, "scope": "bucket"}
    )
    assert response.status_code == 404


def test_what_changed_since_yesterday(time_machine, practice, make_case, client, manager):
    time_machine.move_to(WEDNESDAY_0730 - dt.timedelta(days=1), tick=False)
    stays = make_case(Status.READY)
    leaves = make_case(Status.READY)
    yesterday = sweep_run(practice=practice)
    time_machine.move_to(WEDNESDAY_0730, tick=False)
    # leaves is submitted overnight (fixture shortcut), a new ready case arrives
    type(leaves).objects.filter(pk=leaves.pk).update(status=Status.SUBMITTED, next_poll_at=WEDNESDAY_0730)
    make_case(Status.READY)
    today = sweep_run(practice=practice)
    changes = sweep_changes(today, yesterday)
    assert changes[Bucket.READY_TO_SUBMIT] == {"count": 2, "before": 2, "entered": 1, "left": 1}
    assert stays.pk in today.items.values_list("case_id", flat=True)
    client.force_login(manager)
    body = client.get("/sweep/").content.decode()
    assert "What changed since Tue Nov 17" in body
    assert body.count(">new</span>") == 1


def test_manager_runs_a_sweep_now(time_machine, client, manager, make_case):
    time_machine.move_to(WEDNESDAY_0730, tick=False)
    make_case(Status.READY)
    client.force_login(manager)
    client.post("/sweep/run/")
    sweep = Sweep.objects.get()
    assert sweep.trigger == Sweep.Trigger.MANUAL and sweep.triggered_by == manager
    assert sweep.counts[Bucket.READY_TO_SUBMIT] == 1


def test_digest_has_counts_and_a_link_but_no_phi(swept, practice, manager, coordinator, front_desk, settings):
    settings.PUBLIC_BASE_URL = "https://pa.example.org"
    sweep, cases = swept
    for user in (manager, coordinator, front_desk):
        user.email = f"{user.username}@example.org"
        user.save()
    SweepSettings.objects.create(practice=practice, digest_roles=[Role.MANAGER, Role.FRONT_DESK])
    assert digest_send(sweep=sweep) == 2
    by_reader = {m.to[0]: m for m in mail.outbox}
    assert set(by_reader) == {"mgr@example.org", "desk@example.org"}
    assert "  Ready to submit: 3" in by_reader["mgr@example.org"].body
    assert "  Schedule at risk: 1" in by_reader["desk@example.org"].body
    assert "  Ready to submit: 0" in by_reader["desk@example.org"].body
    assert "Open the sweep: https://pa.example.org/sweep/" in by_reader["mgr@example.org"].body
    for message in mail.outbox:
        text = message.subject + message.body
        for case in cases.values():
            for phi in (case.patient.last_name, case.patient.first_name, case.patient.mrn, case.order.description):
                assert phi not in text


def test_no_digest_without_configured_roles(swept):
    sweep, _ = swept
    assert digest_send(sweep=sweep) == 0
    assert mail.outbox == []


def test_run_sweep_command_json_has_exactly_the_bucket_keys(swept, practice):
    out = StringIO()
    call_command("run_sweep", "--practice", str(practice.pk), "--json", stdout=out)
    counts = json.loads(out.getvalue())
    assert list(counts) == [
        "ready_to_submit",
        "missing_documentation",
        "payer_follow_up",
        "clinician_input",
        "schedule_at_risk",
        "new_denials",
        "stalled",
    ]
    assert counts["ready_to_submit"] == 3 and counts["clinician_input"] == 2
    assert counts["schedule_at_risk"] == 1 and counts["missing_documentation"] == 1


def test_run_sweep_command_text_and_unknown_practice(swept, practice):
    out = StringIO()
    call_command("run_sweep", stdout=out)
    assert "Ready to submit" in out.getvalue()
    with pytest.raises(Exception, match="No practice with id 999999"):
        call_command("run_sweep", "--practice", "999999")


@pytest.mark.parametrize("user_fixture", ["manager", "coordinator", "front_desk", "owner_clinician", "other_clinician"])
def test_sweep_page_and_dashboard_link_follow_the_permission_table(swept, client, request, user_fixture):
    # given a user of each role
    user = request.getfixturevalue(user_fixture)
    client.force_login(user)
    # when they open the sweep page
    response = client.get("/sweep/?bucket=schedule_at_risk")
    # then its controls are what cases.permissions allows that role, and so is the dashboard link
    assert response.context["can_run"] is role_allows(user, "sweep_run")
    assert response.context["can_assign"] is role_allows(user, "sweep_assign")
    assert response.context["can_compare"] is role_allows(user, "sweep_compare")
    assert response.context["can_reschedule"] is role_allows(user, "sweep_reschedule")
    dashboard_link = f'href="{reverse("metrics:dashboard")}"' in response.content.decode()
    assert dashboard_link is role_allows(user, "dashboard")
    assert reverse("metrics:dashboard") == "/dashboard/"
