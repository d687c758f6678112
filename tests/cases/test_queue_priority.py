"""The queue's stored priority key (cases/priority.py): the same order staff saw when it was computed per request."""

import datetime as dt
import random

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from cases.models import PriorAuthCase, Status
from cases.priority import case_priority_refresh, decision_windows
from cases.tasks import refresh_queue_priority
from cases.transitions import transition
from payers.models import Payer
from tests import factories as f

NOW = dt.datetime(2026, 11, 23, 15, 0, tzinfo=dt.UTC)
OPEN = [Status.NEW, Status.GATHERING, Status.NEEDS_CLINICIAN, Status.READY, Status.SUBMITTED, Status.PENDED]


def _mixed_cases(practice, provider, n=60):
    """Every input of the order, varied: urgency, deadlines (some none, some equal), appointments, payers, ages."""
    rnd = random.Random(19)
    payers = [f.PayerFactory(name="Fast payer", cms_impacted=True), f.PayerFactory(name="Slow payer")]
    shared_due = NOW + dt.timedelta(days=3)
    cases = []
    for i in range(n):
        scheduled = NOW.date() + dt.timedelta(days=rnd.randint(-3, 40)) if rnd.random() < 0.6 else None
        order = f.OrderFactory(practice=practice, ordering_provider=provider, scheduled_date=scheduled)
        status = rnd.choice(OPEN + [Status.APPROVED, Status.CLOSED])
        due = rnd.choice([None, shared_due, NOW + dt.timedelta(hours=rnd.randint(-30, 400))])
        cases.append(
            f.CaseFactory(
                order=order,
                payer=rnd.choice(payers),
                status=status,
                urgency="expedited" if rnd.random() < 0.25 else "standard",
                decision_due_at=due,
                # Some cases created in the same instant: the id breaks the tie in both orders.
                created_at=NOW - dt.timedelta(days=rnd.choice([1, 1, 2, 5, 9, 30])),
            )
        )
    return cases


def _computed(qs, today):
    windows = decision_windows(Payer.objects.all())
    return list(qs.with_schedule_risk(today, windows).by_computed_priority().values_list("pk", flat=True))


@time_machine.travel(NOW, tick=False)
def test_stored_order_equals_the_computed_order(practice, owner_provider):
    # given a practice with cases varying every input of the priority
    _mixed_cases(practice, owner_provider)
    qs = PriorAuthCase.objects.filter(practice=practice).open()
    # when the keys are refreshed (saves already did; the schedule's run writes nothing new)
    assert case_priority_refresh() == 0
    # then the stored order is the order the queue used to compute on every request
    stored = list(qs.prioritized().values_list("pk", flat=True))
    assert stored == _computed(qs, timezone.localdate())
    assert len(stored) > 30
    # and closed cases carry no key (they are outside the queue's index)
    assert not PriorAuthCase.objects.closed().exclude(priority_key="").exists()


def test_the_order_follows_the_clock(practice, owner_provider):
    # given cases whose schedule risk turns on as days pass
    with time_machine.travel(NOW, tick=False):
        _mixed_cases(practice, owner_provider)
    qs = PriorAuthCase.objects.filter(practice=practice).open()
    # when ten days pass and the hourly refresh runs
    with time_machine.travel(NOW + dt.timedelta(days=10), tick=False):
        before = list(qs.prioritized().values_list("pk", flat=True))
        assert refresh_queue_priority() > 0
        # then the stored order is again today's computed order
        after = list(qs.prioritized().values_list("pk", flat=True))
        assert after == _computed(qs, timezone.localdate())
    assert before != after


@time_machine.travel(NOW, tick=False)
def test_transition_and_appointment_changes_refresh_the_key(practice, owner_provider, payer, manager):
    # given a standard case being gathered, no appointment
    order = f.OrderFactory(practice=practice, ordering_provider=owner_provider, scheduled_date=None)
    case = f.CaseFactory(order=order, payer=payer, status=Status.READY)
    assert case.priority_key.startswith("3" + "9" * 20)
    # when it is submitted (the payer's deadline is set by transition())
    transition(case, Status.SUBMITTED, actor=manager)
    # then the key carries the deadline
    case.refresh_from_db()
    assert case.decision_due_at and case.priority_key[1:21] != "9" * 20
    # when the appointment is moved before the payer's deadline
    order.scheduled_date = NOW.date() + dt.timedelta(days=1)
    order.save()
    case.refresh_from_db()
    assert case.queue_at_risk and case.priority_key.startswith("2")
    # when the case is decided and closed, it leaves the queue's index
    transition(case, Status.APPROVED, actor=manager)
    transition(case, Status.CLOSED, actor=manager)
    case.refresh_from_db()
    assert case.priority_key == ""


@time_machine.travel(NOW, tick=False)
def test_keyset_pages_walk_the_whole_queue_once_in_order(client, manager, practice, owner_provider, monkeypatch):
    # given more open cases than fit on three pages of 20
    _mixed_cases(practice, owner_provider, n=90)
    monkeypatch.setattr("cases.views.PAGE_SIZE", 20)
    expected = list(PriorAuthCase.objects.filter(practice=practice).open().prioritized().values_list("pk", flat=True))
    client.force_login(manager)
    # when the manager follows "Next" from the first page to the last
    seen, url, pages = [], reverse("cases:queue") + "?view=all", 0
    while url:
        response = client.get(url)
        page = response.context["page"]
        seen += [c.pk for c in page]
        pages += 1
        assert page.number == pages
        url = (
            reverse("cases:queue") + f"?view=all&after={page.next_cursor}&n={page.number + 1}" if page.has_next else ""
        )
    # then every open case appears once, in priority order
    assert seen == expected
    assert pages == -(-len(expected) // 20)


def test_unfiltered_count_is_an_estimate_on_a_large_queue(client, manager, practice, owner_provider, monkeypatch):
    # given a practice with open cases, and the estimate threshold lowered to none
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("the planner's estimate is PostgreSQL's; SQLite counts exactly")
    _mixed_cases(practice, owner_provider, n=20)
    monkeypatch.setattr("cases.pagination.ESTIMATE_ABOVE", -1)
    client.force_login(manager)
    # when the manager opens everything, then filters by overdue
    everything = client.get(reverse("cases:queue") + "?view=all").context["page"]
    filtered = client.get(reverse("cases:queue") + "?view=all&overdue=on").context["page"]
    # then only the unfiltered view's count is an estimate (shown as "about N")
    assert everything.estimated and not filtered.estimated
    assert filtered.count == PriorAuthCase.objects.filter(practice=practice).open().overdue(timezone.now()).count()


@time_machine.travel(NOW, tick=False)
def test_search_matches_names_anywhere_and_identifiers_exactly(practice, owner_provider, payer):
    # given two patients
    ana = f.PatientFactory(practice=practice, first_name="Ana", last_name="Okonkwo-Reyes", mrn="MRN777")
    ben = f.PatientFactory(practice=practice, first_name="Ben", last_name="Smith", mrn="MRN888")
    cases = {}
    for p in (ana, ben):
        order = f.OrderFactory(practice=practice, patient=p, ordering_provider=owner_provider)
        cases[p.first_name] = f.CaseFactory(order=order, patient=p, payer=payer, authorization_number=f"A-{p.mrn}")
    qs = PriorAuthCase.objects.filter(practice=practice)
    # then part of a name, an MRN or an authorization number finds the case, any case of letters
    assert list(qs.search("konkwo")) == [cases["Ana"]]
    assert list(qs.search("mrn888")) == [cases["Ben"]]
    assert list(qs.search("a-mrn777")) == [cases["Ana"]]
    assert list(qs.search("ana reyes")) == [cases["Ana"]]
    assert not qs.search("MRN77").exists()
