"""The tasks inbox: Mine / Unassigned / Team tabs that differ, due-date order with the overdue first and the undated
last, filters by kind and payer, counts per tab (issue 16 item 8)."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from cases.models import Task
from tests import factories as f

pytestmark = pytest.mark.django_db


def _ids(page: str, tasks) -> list[int]:
    """The given tasks' ids in the order the page lists them."""
    found = [(page.index(f'id="task-{t.pk}"'), t.pk) for t in tasks if f'id="task-{t.pk}"' in page]
    return [pk for _, pk in sorted(found)]


@pytest.fixture
def inbox(case, coordinator, manager):
    colleague = f.UserFactory(practice=case.practice, roles=["coordinator"])
    now = timezone.now()
    return {
        "mine_late": f.TaskFactory(case=case, assignee=coordinator, due_at=now - dt.timedelta(days=2)),
        "mine_soon": f.TaskFactory(case=case, assignee=coordinator, due_at=now + dt.timedelta(days=1)),
        "mine_undated": f.TaskFactory(case=case, assignee=coordinator, due_at=None),
        "pool": f.TaskFactory(case=case, role="coordinator", kind=Task.Kind.CALL_PATIENT),
        "colleague": f.TaskFactory(case=case, assignee=colleague),
        "managers": f.TaskFactory(case=case, role="manager"),
    }


def test_tabs_are_disjoint_and_counted(client, coordinator, inbox):
    client.force_login(coordinator)
    url = reverse("cases:tasks")
    tasks = list(inbox.values())
    mine = client.get(url).content.decode()
    unassigned = client.get(url, {"tab": "unassigned"}).content.decode()
    team = client.get(url, {"tab": "team"}).content.decode()
    assert set(_ids(mine, tasks)) == {inbox["mine_late"].pk, inbox["mine_soon"].pk, inbox["mine_undated"].pk}
    assert set(_ids(unassigned, tasks)) == {inbox["pool"].pk}
    assert set(_ids(team, tasks)) == {inbox["colleague"].pk, inbox["managers"].pk}
    for tab, n in (("mine", 3), ("unassigned", 1), ("team", 2)):
        assert f'id="tab-{tab}"' in mine and f'<span class="count">{n}</span>' in mine.split(f'id="tab-{tab}"')[1][:80]


def test_a_role_task_on_my_case_is_mine_and_an_empty_mine_points_to_unassigned(client, coordinator, case, inbox):
    client.force_login(coordinator)
    url = reverse("cases:tasks")
    # given no case assigned to the coordinator, their "Mine" holds only what is assigned to them by name
    for t in ("mine_late", "mine_soon", "mine_undated"):
        inbox[t].delete()
    empty = client.get(url).content.decode()
    assert "No open tasks here. 1 unassigned task waits for your role" in empty
    # when the case is assigned to them, the task waiting for their role on it is theirs
    case.assignee = coordinator
    case.save()
    mine = client.get(url).content.decode()
    assert f'id="task-{inbox["pool"].pk}"' in mine
    assert f'id="task-{inbox["pool"].pk}"' not in client.get(url, {"tab": "unassigned"}).content.decode()


def test_overdue_first_then_by_due_date_undated_last(client, coordinator, inbox):
    client.force_login(coordinator)
    page = client.get(reverse("cases:tasks")).content.decode()
    assert _ids(page, inbox.values()) == [inbox["mine_late"].pk, inbox["mine_soon"].pk, inbox["mine_undated"].pk]
    assert "Overdue" in page


def test_filter_by_kind_and_payer(client, coordinator, inbox, practice, owner_provider):
    other_payer = f.PayerFactory(name="Other Health")
    other_case = f.CaseFactory(
        order=f.OrderFactory(practice=practice, ordering_provider=owner_provider), payer=other_payer
    )
    elsewhere = f.TaskFactory(case=other_case, assignee=coordinator)
    client.force_login(coordinator)
    url = reverse("cases:tasks")
    by_kind = client.get(url, {"tab": "unassigned", "kind": Task.Kind.CALL_PATIENT}).content.decode()
    assert _ids(by_kind, [*inbox.values(), elsewhere]) == [inbox["pool"].pk]
    by_payer = client.get(url, {"payer": other_payer.pk}).content.decode()
    assert _ids(by_payer, [*inbox.values(), elsewhere]) == [elsewhere.pk]
    # the tab counts follow the filters
    assert '<span class="count">1</span>' in by_payer.split('id="tab-mine"')[1][:80]


def test_a_clinician_sees_only_tasks_of_their_cases(client, owner_clinician, other_clinician, case):
    task = f.TaskFactory(case=case, role="clinician")
    client.force_login(other_clinician)
    for tab in ("mine", "unassigned", "team"):
        assert f'id="task-{task.pk}"' not in client.get(reverse("cases:tasks"), {"tab": tab}).content.decode()
    client.force_login(owner_clinician)
    assert f'id="task-{task.pk}"' in client.get(reverse("cases:tasks"), {"tab": "unassigned"}).content.decode()


@pytest.mark.parametrize("tab", ["mine", "unassigned", "team"])
def test_inbox_queries_do_not_grow(client, coordinator, case, tab, django_assert_max_num_queries):
    client.force_login(coordinator)
    for n in range(40):
        f.TaskFactory(case=case, assignee=coordinator if n % 3 == 0 else None, role="coordinator")
    # Queries: session, user, groups, practice (menu), payers (filter), tab counts (one aggregate), page count,
    # page rows (task + case + patient + order + payer + assignee: one join), session save (savepoint, update,
    # release).
    with django_assert_max_num_queries(12):
        assert client.get(reverse("cases:tasks"), {"tab": tab}).status_code == 200
