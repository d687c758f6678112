"""Detection: `case_open_for_order` checks an order against the payer rules and opens its case."""

import datetime as dt

import pytest
from django.utils import timezone

from cases.detection import case_open_for_order
from cases.models import CaseEvent, Order, PriorAuthCase, RequirementStatus, Role, Status, Task, Urgency
from payers.models import Channel, RequiresPA
from tests import factories as f

pytestmark = pytest.mark.django_db


@pytest.fixture
def payer():
    return f.PayerFactory(name="Harbor Medicare Advantage", cms_impacted=True, default_channel=Channel.PAS)


@pytest.fixture
def patient(practice, payer):
    patient = f.PatientFactory(practice=practice)
    f.CoverageFactory(patient=patient, payer=payer)
    return patient


@pytest.fixture
def order_for(practice, patient):
    def make(code="70551", **kwargs):
        kwargs.setdefault("patient", patient)
        return f.OrderFactory(practice=practice, code=code, **kwargs)

    return make


def _status_events(case):
    return list(case.events.filter(kind=CaseEvent.Kind.STATUS).values_list("from_status", "to_status"))


def test_a_required_order_opens_a_gathering_case_with_its_checklist(payer, patient, order_for):
    # given a rule requiring PA with two documentation requirements
    rule = f.PayerRuleFactory(payer=payer, code="70551")
    f.RequirementFactory(rule=rule, description="Office note")
    f.RequirementFactory(rule=rule, description="Prior imaging", kind="imaging")
    order = order_for("70551")
    # when the order is detected
    case = case_open_for_order(order=order)
    # then its case is gathering, names the rule and channel, and has one checklist line per requirement
    case.refresh_from_db()
    assert case.status == Status.GATHERING
    assert (case.rule, case.channel, case.payer) == (rule, Channel.PAS, payer)
    assert RequirementStatus.objects.filter(case=case, state=RequirementStatus.State.GAP).count() == 2
    assert _status_events(case) == [(Status.NEW, Status.GATHERING)]
    # and the order is tied to the coverage that was used
    order.refresh_from_db()
    assert order.coverage.payer == payer


def test_a_not_required_order_is_closed_as_not_required(payer, order_for):
    rule = f.PayerRuleFactory(payer=payer, code="99213", requires_pa=RequiresPA.NO)
    case = case_open_for_order(order=order_for("99213"))
    case.refresh_from_db()
    assert (case.status, case.rule) == (Status.NOT_REQUIRED, rule)
    assert case.closed_at is not None
    assert not case.tasks.exists()


def test_an_order_no_rule_covers_stays_new_with_a_task_to_check(payer, order_for):
    # given no rule for the code: unknown, a person checks
    f.PayerRuleFactory(payer=payer, code="70551")
    case = case_open_for_order(order=order_for("73721"))
    case.refresh_from_db()
    assert case.status == Status.NEW
    assert case.rule is None
    (task,) = case.tasks.all()
    assert (task.kind, task.role) == (Task.Kind.REVIEW_RULE, Role.COORDINATOR)
    assert _status_events(case) == []


def test_a_rule_that_says_unknown_also_leaves_it_to_a_person(payer, order_for):
    f.PayerRuleFactory(payer=payer, code="70551", requires_pa=RequiresPA.UNKNOWN)
    case = case_open_for_order(order=order_for("70551"))
    case.refresh_from_db()
    assert case.status == Status.NEW
    assert [t.kind for t in case.tasks.all()] == [Task.Kind.REVIEW_RULE]


def test_conflicting_rules_leave_it_to_a_person_naming_the_rules(payer, order_for):
    a = f.PayerRuleFactory(payer=payer, code="70551", requires_pa=RequiresPA.YES)
    b = f.PayerRuleFactory(payer=payer, code="70551", requires_pa=RequiresPA.NO, effective_from=dt.date(2021, 1, 1))
    case = case_open_for_order(order=order_for("70551"))
    case.refresh_from_db()
    assert case.status == Status.NEW
    (task,) = case.tasks.all()
    assert task.kind == Task.Kind.REVIEW_RULE
    assert f"#{a.pk}" in task.detail and f"#{b.pk}" in task.detail


def test_an_emergency_order_is_flagged_for_retro_authorization_without_a_rule_check(payer, order_for):
    # given a rule that would require PA
    f.PayerRuleFactory(payer=payer, code="70551")
    # when an emergency order arrives
    case = case_open_for_order(order=order_for("70551", priority=Order.Priority.EMERGENCY))
    case.refresh_from_db()
    # then it is kept out of the automated path
    assert case.status == Status.RETRO_AUTH
    assert case.rule is None
    assert _status_events(case) == [(Status.NEW, Status.RETRO_AUTH)]
    (task,) = case.tasks.all()
    assert (task.kind, task.role) == (Task.Kind.RETRO_AUTH, Role.COORDINATOR)
    assert not RequirementStatus.objects.filter(case=case).exists()


def test_a_patient_without_coverage_gets_a_coverage_task(practice, payer, order_for):
    f.PayerRuleFactory(payer=payer, code="70551")
    uninsured = f.PatientFactory(practice=practice)
    case = case_open_for_order(order=order_for("70551", patient=uninsured))
    case.refresh_from_db()
    assert (case.status, case.payer) == (Status.NEW, None)
    (task,) = case.tasks.all()
    assert task.kind == Task.Kind.CLOSE_GAP
    assert "No active coverage" in task.detail


def test_coverage_that_ended_before_the_service_date_does_not_count(practice, payer, order_for):
    f.PayerRuleFactory(payer=payer, code="70551")
    lapsed = f.PatientFactory(practice=practice)
    f.CoverageFactory(patient=lapsed, payer=payer, end=timezone.localdate() - dt.timedelta(days=1))
    case = case_open_for_order(order=order_for("70551", patient=lapsed))
    assert PriorAuthCase.objects.get(pk=case.pk).payer is None
    assert "No active coverage" in case.tasks.get().detail


def test_several_active_coverages_ask_a_person_to_choose_the_primary(payer, patient, order_for):
    # given a second active coverage with another payer
    f.CoverageFactory(patient=patient, payer=f.PayerFactory(name="Second Payer"))
    f.PayerRuleFactory(payer=payer, code="70551")
    case = case_open_for_order(order=order_for("70551"))
    case.refresh_from_db()
    assert (case.status, case.payer) == (Status.NEW, None)
    assert "2 active coverages" in case.tasks.get().detail


def test_the_coverage_plan_selects_plan_specific_rules(payer, practice, order_for):
    # given a payer-wide "required" rule and a plan-specific "not required" one
    plan = f.PlanFactory(payer=payer, name="Gold")
    f.PayerRuleFactory(payer=payer, code="70551", requires_pa=RequiresPA.YES)
    plan_rule = f.PayerRuleFactory(payer=payer, plan=plan, code="70551", requires_pa=RequiresPA.NO)
    member = f.PatientFactory(practice=practice)
    f.CoverageFactory(patient=member, payer=payer, plan=plan)
    # when a Gold member's order is detected, then the plan's rule decides
    case = case_open_for_order(order=order_for("70551", patient=member))
    case.refresh_from_db()
    assert (case.status, case.rule, case.plan) == (Status.NOT_REQUIRED, plan_rule, plan)


def test_urgent_orders_open_expedited_cases(payer, order_for):
    f.PayerRuleFactory(payer=payer, code="70551")
    urgent = case_open_for_order(order=order_for("70551", priority=Order.Priority.URGENT))
    routine = case_open_for_order(order=order_for("70551"))
    assert (urgent.urgency, routine.urgency) == (Urgency.EXPEDITED, Urgency.STANDARD)


def test_detection_is_idempotent_per_order(payer, order_for):
    f.PayerRuleFactory(payer=payer, code="73721", requires_pa=RequiresPA.UNKNOWN)
    order = order_for("73721")
    first = case_open_for_order(order=order)
    events, tasks = first.events.count(), first.tasks.count()
    # when the same order is seen again (e.g. the next EHR sync)
    again = case_open_for_order(order=order)
    # then nothing new is opened or written
    assert again.pk == first.pk
    assert PriorAuthCase.objects.filter(order=order).count() == 1
    assert (again.events.count(), again.tasks.count()) == (events, tasks)


def test_a_rule_that_is_not_yet_effective_on_the_service_date_does_not_apply(payer, order_for):
    # given a rule that starts after the scheduled date
    service_day = timezone.localdate() + dt.timedelta(days=10)
    f.PayerRuleFactory(payer=payer, code="70551", effective_from=service_day + dt.timedelta(days=1))
    case = case_open_for_order(order=order_for("70551", scheduled_date=service_day))
    assert PriorAuthCase.objects.get(pk=case.pk).status == Status.NEW
    assert case.tasks.get().kind == Task.Kind.REVIEW_RULE
