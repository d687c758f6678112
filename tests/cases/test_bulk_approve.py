"""Bulk approval from the queue and the sweep, and the practice setting for which cases need approval at all
(issue 16 item 7)."""

from decimal import Decimal

import pytest
from django.urls import reverse

from cases.actions import cases_approve_bulk
from cases.models import Status, Task, Urgency
from cases.permissions import available_actions
from tests import factories as f

pytestmark = pytest.mark.django_db


@pytest.fixture
def make_case(practice, owner_provider, payer):
    def make(status=Status.READY, attested=True, **kwargs):
        order_kw = {k.removeprefix("order__"): kwargs.pop(k) for k in list(kwargs) if k.startswith("order__")}
        order = f.OrderFactory(practice=practice, ordering_provider=owner_provider, **order_kw)
        case = f.CaseFactory(order=order, payer=payer, status=status, **kwargs)
        # a ready case has what the submission gate asks (cases/readiness.py): an attested summary
        return f.gate_met(case) if attested and status == Status.READY else case

    return make


def test_only_cases_whose_gate_is_met_are_approved_the_rest_say_why(manager, make_case):
    ready = make_case()
    gap = make_case()
    f.RequirementStatusFactory(case=gap)
    unattested = make_case(summary_text="Summary drafted", attested=False)
    gathering = make_case(status=Status.GATHERING)
    approved, refused = cases_approve_bulk(cases=[ready, gap, unattested, gathering], actor=manager)
    assert [c.pk for c in approved] == [ready.pk]
    reasons = {c.pk: why for c, why in refused}
    assert reasons == {
        gap.pk: "Close 1 documentation gap",
        unattested.pk: f"Summary attestation by Dr. {unattested.order.ordering_provider.last_name}",
        gathering.pk: "not ready to submit (gathering documentation)",
    }
    ready.refresh_from_db()
    assert ready.submission_approved_by == manager
    for case in (gap, unattested, gathering):
        case.refresh_from_db()
        assert case.submission_approved_at is None


def test_a_case_approved_a_moment_ago_is_listed_not_approved_twice(manager, make_case):
    case = make_case()
    cases_approve_bulk(cases=[case], actor=manager)
    approved, refused = cases_approve_bulk(cases=[case], actor=manager)
    assert approved == [] and refused[0][1] == "the submission is already approved"
    assert case.events.filter(kind="approval").count() == 1


def test_queue_bulk_approve_reports_each_refusal(client, manager, make_case):
    ready = make_case()
    blocked = make_case()
    f.RequirementStatusFactory(case=blocked)
    f.TaskFactory(case=ready, kind=Task.Kind.APPROVE_SUBMISSION, role="manager")
    client.force_login(manager)
    page = client.post(reverse("cases:bulk_approve"), {"cases": [ready.pk, blocked.pk]}, follow=True).content.decode()
    assert "Approved 1 case for submission." in page
    assert f"Not approved: case {blocked.pk}" in page and "Close 1 documentation gap" in page
    # the approval task of the approved case is done
    assert not ready.tasks.filter(kind=Task.Kind.APPROVE_SUBMISSION, done_at__isnull=True).exists()


def test_sweep_bulk_approve_returns_to_the_sweep(client, manager, make_case):
    ready = make_case()
    client.force_login(manager)
    back = reverse("sweep:page") + "?bucket=ready_to_submit"
    response = client.post(reverse("cases:bulk_approve"), {"case": [ready.pk], "next": back})
    assert response.status_code == 302 and response["Location"] == back
    ready.refresh_from_db()
    assert ready.submission_approved_at is not None
    # an outside address is not followed
    response = client.post(reverse("cases:bulk_approve"), {"case": [ready.pk], "next": "https://evil.example/"})
    assert response["Location"].startswith(reverse("cases:queue"))


@pytest.mark.parametrize(
    ("on", "scope", "threshold", "urgency", "cost", "needs"),
    [
        (False, "all", None, Urgency.EXPEDITED, Decimal("99999"), False),  # approval off: none
        (True, "all", None, Urgency.STANDARD, None, True),
        (True, "expedited", None, Urgency.STANDARD, None, False),
        (True, "expedited", None, Urgency.EXPEDITED, None, True),
        (True, "above_cost", Decimal("1000"), Urgency.STANDARD, Decimal("999.99"), False),
        (True, "above_cost", Decimal("1000"), Urgency.STANDARD, Decimal("1000.01"), True),
        (True, "above_cost", Decimal("1000"), Urgency.STANDARD, None, True),  # no estimate: the safe side
    ],
)
def test_practice_setting_decides_which_cases_need_approval(
    practice, coordinator, make_case, on, scope, threshold, urgency, cost, needs
):
    practice.submission_requires_approval = on
    practice.approval_scope = scope
    practice.approval_cost_threshold = threshold
    practice.save()
    case = make_case(urgency=urgency, order__estimated_cost=cost)
    case.refresh_from_db()
    assert case.needs_approval is needs
    actions = available_actions(coordinator, case, open_task_kinds=set(), has_gaps=False)
    # the coordinator may submit exactly when no approval is needed
    assert actions["submit"] is (not needs)


def test_bulk_approval_skips_cases_the_setting_does_not_ask_approval_for(practice, manager, make_case):
    practice.approval_scope = "expedited"
    practice.save()
    standard = make_case(urgency=Urgency.STANDARD)
    approved, refused = cases_approve_bulk(cases=[standard], actor=manager)
    assert approved == [] and refused == [(standard, "needs no approval under the practice's setting")]


def test_sweep_ready_bucket_offers_bulk_approval_to_managers_only(client, practice, manager, coordinator, make_case):
    from cases.sweep.services import sweep_run

    ready = make_case()
    sweep_run(practice=practice)
    url = reverse("sweep:page") + "?bucket=ready_to_submit"
    client.force_login(manager)
    page = client.get(url).content.decode()
    assert 'id="bulk-approve"' in page and f'value="{ready.pk}"' in page
    client.force_login(coordinator)
    assert 'id="bulk-approve"' not in client.get(url).content.decode()
