"""A coordinator's day without dead ends (issue 16 items 4, 6, 7, 8), in Chromium, asserting what a person sees:
an approved case found by its authorization number, the outcome form keeping input on an error, bulk approval from
the queue, tasks tabs that differ."""

import datetime as dt

import pytest
from django.utils import timezone

from cases.models import Status
from tests import factories as f

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_an_approved_case_is_found_by_its_authorization_number(
    login, page, live_server, screenshot, coordinator, practice, payer
):
    approved = f.CaseFactory(
        order=f.OrderFactory(practice=practice, patient__last_name="Eastwood", patient__first_name="Ruth"),
        payer=payer,
        status=Status.APPROVED,
        authorization_number="AUTH-55102",
        auth_effective_start=dt.date(2026, 12, 1),
        auth_effective_end=dt.date(2027, 2, 28),
        units_approved=6,
    )
    f.CaseFactory(order=f.OrderFactory(practice=practice, patient__last_name="Baker"), payer=payer)
    login(coordinator)
    # the queue is open work: the approval is not in it
    page.wait_for_selector("text=Baker")
    assert page.locator(f"#case-{approved.pk}").count() == 0
    # the coordinator types the authorization number into the search box
    page.fill("#id_q", "AUTH-55102")
    page.wait_for_selector(f"#case-{approved.pk}")
    row = page.inner_text(f"#case-{approved.pk}")
    assert "Eastwood, Ruth" in row and "Approved" in row and "AUTH-55102" in row
    # and the same patient as names are shown, "Eastwood, Ruth"
    page.fill("#id_q", "Eastwood, Ruth")
    page.wait_for_selector(f"#case-{approved.pk}")
    # the Authorizations page lists it with its dates and units
    page.click("nav >> text=Authorizations")
    page.wait_for_selector(f"#auth-{approved.pk}")
    row = page.inner_text(f"#auth-{approved.pk}")
    assert "AUTH-55102" in row and "Dec 1, 2026" in row and "Feb 28, 2027" in row
    screenshot("authorizations")


def test_the_outcome_form_keeps_input_on_an_error(login, page, live_server, screenshot, coordinator, case):
    case.status = Status.SUBMITTED
    case.save()
    login(coordinator)
    page.goto(f"{live_server.url}/cases/{case.pk}/")
    page.click("text=Record payer outcome")
    page.select_option("#outcome-form select[name=outcome]", "approved")
    # fields by outcome: no denial reason for an approval
    assert page.locator("#outcome-field-denial_reason_text").is_hidden()
    assert page.locator("#outcome-field-authorization_number").is_visible()
    page.fill("#outcome-form input[name=effective_start]", "2026-12-01")
    page.fill("#outcome-form input[name=units_approved]", "4")
    page.fill("#outcome-form input[name=payer_reference]", "REF-3321")
    page.click("#outcome-form button[type=submit]")
    # the error is next to the missing field, in the form that stays open, and nothing typed is lost
    error = page.locator("#outcome-field-authorization_number .field-error")
    error.wait_for()
    assert "authorization number" in error.inner_text()
    assert page.input_value("#outcome-form input[name=effective_start]") == "2026-12-01"
    assert page.input_value("#outcome-form input[name=units_approved]") == "4"
    assert page.input_value("#outcome-form input[name=payer_reference]") == "REF-3321"
    assert page.input_value("#outcome-form select[name=outcome]") == "approved"
    assert page.locator("#outcome-field-denial_reason_text").is_hidden()
    screenshot("outcome_form_error")
    # completing the field records the approval
    page.fill("#outcome-form input[name=authorization_number]", "AUTH-1")
    page.click("#outcome-form button[type=submit]")
    page.wait_for_selector(f"#case-{case.pk}-status >> text=Approved")


def test_bulk_approve_from_the_queue(login, page, live_server, screenshot, manager, practice, payer):
    # the gate (issue 16) asks for an attested summary too: a bare ready case is refused like the blocked one
    ready = f.gate_met(
        f.CaseFactory(
            order=f.OrderFactory(practice=practice, patient__last_name="Ready"), payer=payer, status=Status.READY
        )
    )
    blocked = f.CaseFactory(
        order=f.OrderFactory(practice=practice, patient__last_name="Blocked"), payer=payer, status=Status.READY
    )
    f.RequirementStatusFactory(case=blocked)
    for case in (ready, blocked):
        f.gate_met(case)  # an attested summary: the gap is what stops the blocked one
    login(manager)
    page.wait_for_selector(f"#case-{ready.pk}")
    page.check(f"#case-{ready.pk} input[name=cases]")
    page.check(f"#case-{blocked.pk} input[name=cases]")
    page.click("#bulk-approve")
    page.wait_for_selector("text=Approved 1 case for submission.")
    assert page.locator(f"text=Not approved: case {blocked.pk}").is_visible()
    assert page.locator("text=Close 1 documentation gap").first.is_visible()
    # the approved case's next step is now the submission itself
    page.wait_for_selector(f"#case-{ready.pk} >> text=Submit to payer")
    assert "Submit to payer" not in page.inner_text(f"#case-{blocked.pk}")
    screenshot("bulk_approve")


def test_the_queue_keeps_its_filters_after_a_bulk_action(login, page, live_server, manager, practice, payer):
    # given a manager who narrowed the queue to the ready bucket (found walking the demo: after "Approve selected"
    # the list came back with every status while the filter still said "Ready to submit")
    ready = f.gate_met(
        f.CaseFactory(
            order=f.OrderFactory(practice=practice, patient__last_name="Ready"), payer=payer, status=Status.READY
        )
    )
    submitted = f.CaseFactory(
        order=f.OrderFactory(practice=practice, patient__last_name="Submitted"), payer=payer, status=Status.SUBMITTED
    )
    login(manager)
    page.wait_for_selector(f"#case-{submitted.pk}")
    page.select_option("select[name=bucket]", "ready")
    page.wait_for_selector(f"#case-{submitted.pk}", state="detached")
    # when they approve the ready case from the filtered list
    page.check(f"#case-{ready.pk} input[name=cases]")
    page.click("#bulk-approve")
    page.wait_for_selector("text=Approved 1 case for submission.")
    page.wait_for_selector(f"#case-{ready.pk} >> text=Submit to payer")
    page.wait_for_load_state("networkidle")
    # then the refreshed list is still the ready bucket only
    assert page.locator(f"#case-{submitted.pk}").count() == 0
    assert page.input_value("select[name=bucket]") == "ready"


def test_tasks_tabs_differ(login, page, live_server, screenshot, coordinator, case):
    colleague = f.UserFactory(practice=case.practice, roles=["coordinator"], last_name="Colleague")
    now = timezone.now()
    f.TaskFactory(case=case, assignee=coordinator, title="Mine overdue", due_at=now - dt.timedelta(days=1))
    f.TaskFactory(case=case, assignee=coordinator, title="Mine undated", due_at=None)
    f.TaskFactory(case=case, role="coordinator", title="Nobody's yet")
    f.TaskFactory(case=case, assignee=colleague, title="A colleague's")
    login(coordinator)
    page.goto(f"{live_server.url}/tasks/")
    mine = page.inner_text("#task-list")
    assert "Mine overdue" in mine and "Mine undated" in mine and "Nobody's yet" not in mine
    assert mine.index("Mine overdue") < mine.index("Mine undated")
    assert page.inner_text("#tab-mine").endswith("2")
    screenshot("tasks_tabs")
    page.click("#tab-unassigned")
    page.wait_for_selector("text=Nobody's yet")
    assert "Mine overdue" not in page.inner_text("#task-list")
    page.click("#tab-team")
    page.wait_for_selector("text=A colleague's")
    assert "Nobody's yet" not in page.inner_text("#task-list")
