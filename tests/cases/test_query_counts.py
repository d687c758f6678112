"""The queue, the case page and the tasks inbox run a constant number of queries."""

from django.db import connection
from django.http import QueryDict
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from cases.models import Status
from tests import factories as f


def _seed_cases(practice, provider, payer, n):
    location = f.LocationFactory(practice=practice)
    plan = f.PlanFactory(payer=payer)
    rule = f.PayerRuleFactory(payer=payer)
    for i in range(n):
        order = f.OrderFactory(practice=practice, ordering_provider=provider, location=location)
        case = f.CaseFactory(
            order=order,
            payer=payer,
            plan=plan,
            rule=rule,
            status=[Status.GATHERING, Status.READY, Status.SUBMITTED, Status.NEEDS_CLINICIAN][i % 4],
            urgency="expedited" if i % 5 == 0 else "standard",
        )
        f.TaskFactory(case=case)


def _count(client, url, **headers):
    path, _, posted = url.partition("POST?")
    with CaptureQueriesContext(connection) as ctx:
        if posted:  # the queue's search is posted (no search words in URLs)
            response = client.post(path, QueryDict(posted), **headers)
        else:
            response = client.get(url, **headers)
    assert response.status_code == 200
    if headers.get("debug"):
        for q in ctx.captured_queries:
            print(q["sql"][:150])
    return len(ctx.captured_queries)


QUEUE_URLS = [
    ("?view=all&sort=priority", {}),
    ("?view=mine", {}),
    ("?view=needs_me", {}),
    ("POST?view=all&q=a&overdue=on&sort=deadline", {"HTTP_HX_REQUEST": "true"}),
]


def test_queue_queries_do_not_grow_with_cases(
    client, manager, practice, owner_provider, payer, django_assert_max_num_queries
):
    # given 10 cases, then 200 cases (the page shows at most 50 rows)
    client.force_login(manager)
    _seed_cases(practice, owner_provider, payer, 10)
    small = [_count(client, reverse("cases:queue") + q, **h) for q, h in QUEUE_URLS]
    session = client.session
    session.pop("queue_search")  # the search posted last stays on (it is kept in the session) until cleared
    session.save()
    _seed_cases(practice, owner_provider, payer, 190)
    # Queries (17): session, user, the user's groups (role), practice (time zone), the background
    # heartbeat (a manager's "background work is stalled" banner), payers (filter choices), staff
    # (assignee filter / bulk assign), locations, providers (filter choices), the counts per status
    # (one GROUP BY), the planner's row
    # estimate (unfiltered view on PostgreSQL: EXPLAIN; exact count below 5 000), page count,
    # page rows (one join for patient, order,
    # provider, location, payer, plan, rule, assignee, practice), and the session save
    # (savepoint, update, release: the idle-logoff middleware stamps the person's last request), and the
    # access-log row for the page's cases (one INSERT).
    for (q, h), before in zip(QUEUE_URLS, small, strict=True):
        with django_assert_max_num_queries(17):
            assert _count(client, reverse("cases:queue") + q, **h) == before


def test_case_page_queries_do_not_grow_with_its_history(
    client, coordinator, case, settings, tmp_path, django_assert_max_num_queries
):
    settings.MEDIA_ROOT = tmp_path
    client.force_login(coordinator)
    url = reverse("cases:detail", args=[case.pk])

    def grow(n):
        for _ in range(n):
            f.CaseEventFactory(case=case, actor=coordinator)
            f.TaskFactory(case=case, assignee=coordinator)
            f.RequirementStatusFactory(case=case, evidence=[{"resource": "Observation/1", "value": "7.1 %"}])
            case.documents.create(title="EHR note", ehr_reference="DocumentReference/1", source="ehr")

    grow(10)
    small = _count(client, url)
    grow(190)
    # Queries: session, user, groups, practice (time zone), the case (one join), open tasks
    # (+assignee), requirements (+requirement, resolved_by), documents (+uploader, requirement),
    # EHR write-backs, timeline events (+actor), staff for the assign form, patient texts, the
    # fax section's outbound fax, the patient's coverages (the order names none: member id and group number
    # for the portal facts), the live poll's version stamp (cases/live.py, one query), the session save
    # (savepoint, update, release) and the access-log row (one INSERT).
    with django_assert_max_num_queries(21):
        assert _count(client, url) == small


def test_task_inbox_queries_are_constant(client, coordinator, case, django_assert_max_num_queries):
    client.force_login(coordinator)
    for _ in range(10):
        f.TaskFactory(case=f.CaseFactory(order__practice=case.practice))
    small = _count(client, reverse("cases:tasks"))
    for _ in range(190):
        f.TaskFactory(case=f.CaseFactory(order__practice=case.practice))
    # Queries: session, user, groups, practice, page count, page rows (task + case + patient
    # + order + payer + assignee), session save (savepoint, update, release), the access-log row.
    with django_assert_max_num_queries(11):
        assert _count(client, reverse("cases:tasks")) == small


def test_the_queue_page_does_not_select_assignees_password_hashes(client, manager, coordinator, case):
    # given an open case assigned to a coordinator
    case.assignee = coordinator
    case.save(update_fields=["assignee"])
    client.force_login(manager)
    # when the manager's queue is drawn
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(reverse("cases:queue") + "?view=all")
    assert response.status_code == 200 and coordinator.display() in response.content.decode()
    # then the page's case rows come without any user's password column
    rows = [q["sql"] for q in ctx.captured_queries if "cases_priorauthcase" in q["sql"] and "JOIN" in q["sql"]]
    assert rows and not any('"password"' in sql for sql in rows)
