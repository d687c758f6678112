"""Click through the loop in Chromium: filter, open, upload, attest, approve, submit, record an approval.

Each role signs in through the login form. htmx swaps are checked to happen
without a page load: a marker set on `window` before an action must survive it.
"""

import datetime as dt

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from cases.models import Status
from tests import factories as f

pytestmark = pytest.mark.e2e


@pytest.fixture
def flow_case(practice, owner_provider, payer, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    rule = f.PayerRuleFactory(payer=payer, channel="portal", criteria_reference="RAD-MRI-01")
    order = f.OrderFactory(
        practice=practice,
        ordering_provider=owner_provider,
        patient__last_name="Quintero",
        patient__first_name="Ana",
        description="MRI brain without contrast",
    )
    case = f.CaseFactory(
        order=order,
        payer=payer,
        rule=rule,
        channel="portal",
        status=Status.GATHERING,
        summary_text="Headache for 8 weeks despite two medication trials; neurological exam abnormal.",
        summary_source="template",
    )
    f.RequirementStatusFactory(case=case, requirement__rule=rule, requirement__description="Office note within 30 days")
    # Other cases so the filter has something to hide and the queue shows its clocks.
    now = timezone.now()
    others = [
        ("Baker", {"status": Status.SUBMITTED, "decision_due_at": now + dt.timedelta(hours=20)}, {}),
        (
            "Chen",
            {"status": Status.READY, "urgency": "expedited"},
            {"scheduled_date": now.date() + dt.timedelta(days=2)},
        ),
        ("Diaz", {"status": Status.DENIED, "appeal_deadline": now.date() + dt.timedelta(days=40)}, {}),
        ("Evans", {"status": Status.PENDED, "decision_due_at": now - dt.timedelta(hours=3)}, {}),
    ]
    for name, fields, order_fields in others:
        order = f.OrderFactory(practice=practice, patient__last_name=name, **order_fields)
        f.CaseFactory(order=order, payer=payer, **fields)
    return case


def _mark(page):
    page.evaluate("window.__noReload = 1")


def _not_reloaded(page):
    assert page.evaluate("window.__noReload") == 1


@pytest.mark.django_db(transaction=True)
def test_roles_take_a_case_from_gap_to_approval(
    login, page, live_server, screenshot, flow_case, coordinator, owner_clinician, manager, tmp_path
):
    case = flow_case
    # The coordinator filters the queue by name: the list updates in place; the name stays out of the URL.
    login(coordinator)
    page.wait_for_selector(f"#case-{case.pk}")
    screenshot("queue")
    _mark(page)
    page.fill("#id_q", "Quintero")
    # (expect, not wait_for_function: the strict CSP refuses the eval Playwright's function wait uses)
    expect(page.locator("body")).not_to_contain_text("Baker")
    assert page.locator(f"#case-{case.pk}").is_visible()
    assert "Quintero" not in page.url
    _not_reloaded(page)

    # … opens the case and uploads the office note for the open gap.
    page.click(f"#case-{case.pk} a")
    page.wait_for_selector(f"#case-{case.pk}-timeline")
    _mark(page)
    pdf = tmp_path / "note.pdf"
    pdf.write_bytes(f.PDF_BYTES)
    page.set_input_files("#upload-form input[type=file]", str(pdf))
    page.fill("#upload-form input[name=title]", "Office note 11/02")
    page.select_option("#upload-form select[name=requirement]", index=1)
    page.click("#upload-form button[type=submit]")
    page.wait_for_selector(f"#case-{case.pk}-timeline >> text=Uploaded: Office note 11/02")
    assert page.locator(f"#case-{case.pk}-packet").get_by_text("Office note 11/02").first.is_visible()
    _not_reloaded(page)
    page.click("text=Sign out")

    # The owning clinician attests the summary: the case becomes ready.
    login(owner_clinician)
    page.goto(f"{live_server.url}/cases/{case.pk}/")
    _mark(page)
    page.click("text=I attest this summary")
    page.wait_for_selector(f"#case-{case.pk}-attested")
    assert page.inner_text(f"#case-{case.pk}-status") == "Ready to submit"
    _not_reloaded(page)
    page.click("text=Sign out")

    # The manager approves and submits; then records the portal's approval.
    login(manager)
    page.goto(f"{live_server.url}/cases/{case.pk}/")
    _mark(page)
    page.click("button:has-text('Approve for submission')")
    page.wait_for_selector(f"#case-{case.pk}-timeline >> text=Submission approved")
    page.click("button:has-text('Submit to payer')")
    page.wait_for_selector(f"#case-{case.pk}-timeline >> text=Submission requested")
    page.click("text=Record payer outcome")
    page.select_option("#outcome-form select[name=outcome]", "approved")
    page.fill("#outcome-form input[name=authorization_number]", "AUTH-778812")
    page.fill("#outcome-form input[name=effective_start]", "2026-12-01")
    page.fill("#outcome-form input[name=effective_end]", "2027-02-28")
    page.fill("#outcome-form input[name=units_approved]", "1")
    page.click("#outcome-form button[type=submit]")
    page.wait_for_selector(f"#case-{case.pk}-auth")
    assert page.inner_text(f"#case-{case.pk}-status") == "Approved"
    assert page.locator(f"#case-{case.pk}-timeline").get_by_text("Approved").first.is_visible()
    _not_reloaded(page)
    page.evaluate("window.scrollTo(0, 0)")
    screenshot("case_page")

    case.refresh_from_db()
    assert case.status == Status.APPROVED and case.authorization_number == "AUTH-778812"


@pytest.mark.django_db(transaction=True)
def test_clinician_lands_on_cases_that_need_them(login, page, flow_case, owner_clinician):
    flow_case.status = Status.NEEDS_CLINICIAN
    flow_case.save(update_fields=["status"])
    login(owner_clinician)
    assert page.locator(f"#case-{flow_case.pk}").is_visible()
    assert page.locator("input[name=view][value=needs_me]").is_checked()
    assert page.locator("tbody tr").count() == 1


@pytest.mark.django_db(transaction=True)
def test_tasks_inbox_completes_without_reload(login, page, live_server, flow_case, coordinator, screenshot):
    task = f.TaskFactory(case=flow_case, title="Call the payer about the fax", role="coordinator")
    login(coordinator)
    page.click("nav >> text=Tasks")
    # an unassigned task for the coordinators: in the "Unassigned" tab (Mine holds what is assigned to them)
    page.click("#tab-unassigned")
    page.wait_for_selector(f"#task-{task.pk}")
    screenshot("tasks")
    _mark(page)
    page.click(f"#task-{task.pk} button")
    page.wait_for_selector(f"#task-{task.pk}.done")
    _not_reloaded(page)


@pytest.mark.django_db(transaction=True)
def test_coordinator_files_an_appeal_from_the_drafted_letter(login, page, live_server, flow_case, coordinator):
    denied = f.CaseFactory(
        order=f.OrderFactory(practice=flow_case.practice, patient__last_name="Ibarra", description="MRI lumbar spine"),
        payer=flow_case.payer,
        status=Status.DENIED,
        denial_reason_code="MN01",
        denial_reason_text="Conservative therapy not documented",
        appeal_deadline=timezone.localdate() + dt.timedelta(days=60),
    )
    login(coordinator)
    page.goto(f"{live_server.url}/cases/{denied.pk}/")
    _mark(page)
    page.click("text=File appeal")
    letter = page.locator(f"#appeal-{denied.pk}")
    assert "The reason given: MN01 Conservative therapy not documented." in letter.input_value()
    letter.fill(letter.input_value() + "\nEnclosed: therapy notes from 09/2026.")
    page.click("#appeal-form button[type=submit]")
    page.wait_for_selector(f"#case-{denied.pk}-timeline >> text=Appeal filed")
    assert page.inner_text(f"#case-{denied.pk}-status") == "Appealed"
    assert page.locator("#appeal-form").count() == 0
    _not_reloaded(page)
    denied.refresh_from_db()
    doc = denied.documents.get()
    assert doc.file.read().decode().endswith("Enclosed: therapy notes from 09/2026.")
