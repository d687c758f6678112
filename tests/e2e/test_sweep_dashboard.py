import datetime as dt

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from cases.models import CaseEvent, Status
from cases.sweep.services import sweep_run
from tests import factories as f

pytestmark = pytest.mark.e2e


def _demo_cases(practice, provider):
    now = timezone.now()
    payer = f.PayerFactory(name="Harbor Medicare Advantage", cms_impacted=True)
    other = f.PayerFactory(name="Summit Health")
    made = []
    for i, (status, extra) in enumerate(
        [
            (Status.READY, {}),
            (Status.READY, {}),
            (Status.READY, {}),
            (Status.GATHERING, {"scheduled_date": timezone.localdate() + dt.timedelta(days=3)}),
            (Status.NEEDS_CLINICIAN, {}),
            (
                Status.SUBMITTED,
                {"submitted_at": now - dt.timedelta(days=9), "decision_due_at": now - dt.timedelta(days=2)},
            ),
            (
                Status.DENIED,
                {
                    "decided_at": now - dt.timedelta(hours=3),
                    "denial_reason_code": "CO-197",
                    "denial_reason_text": "Incomplete documentation",
                },
            ),
        ]
    ):
        scheduled = extra.pop("scheduled_date", None)
        order = f.OrderFactory(practice=practice, ordering_provider=provider, scheduled_date=scheduled)
        case = f.CaseFactory(order=order, payer=payer if i % 2 else other, status=status, **extra)
        made.append(case)
    for days, to in ((2, Status.APPROVED), (6, Status.APPROVED), (3, Status.DENIED)):
        order = f.OrderFactory(practice=practice, ordering_provider=provider, created_at=now - dt.timedelta(days=10))
        case = f.CaseFactory(
            order=order,
            payer=payer,
            status=to,
            submitted_at=now - dt.timedelta(days=9),
            decided_at=now - dt.timedelta(days=9 - days),
            denial_reason_code="CO-50" if to == Status.DENIED else "",
            denial_reason_text="Conservative therapy not documented" if to == Status.DENIED else "",
        )
        CaseEvent.objects.create(case=case, kind=CaseEvent.Kind.STATUS, to_status=to, created_at=case.decided_at)
    return made


@pytest.mark.django_db(transaction=True)
def test_manager_opens_the_sweep_bulk_assigns_a_bucket_and_opens_the_dashboard(
    login, page, live_server, screenshot, practice, owner_provider, manager, coordinator
):
    cases = _demo_cases(practice, owner_provider)
    sweep_run(practice=practice)
    login(manager)

    # the sweep page with the bucket tiles
    page.click("nav[aria-label=Main] >> text=Sweep")
    page.wait_for_selector("#tab-ready_to_submit")
    assert page.locator("#tab-ready_to_submit .bucket-count").inner_text() == "3"
    screenshot("sweep-manager")

    # bulk-assign the whole "ready to submit" bucket to the coordinator
    # the tab swaps the bucket in with htmx (outerHTML): wait until the old body has left the page, or the old
    # form (the default bucket has one too) is filled and then replaced by an empty one before the click
    old_body = page.locator("#sweep-body").element_handle()
    page.click("#tab-ready_to_submit")
    old_body.wait_for_element_state("hidden")
    expect(page.locator("#tab-ready_to_submit")).to_have_attribute("aria-current", "page")
    page.select_option("#assignee", label=coordinator.display())
    page.click("#assign-bucket")
    page.wait_for_selector(".msg-success")
    assert "Assigned 3 cases to" in page.locator(".messages").inner_text()
    assert page.locator("#sweep-bucket td.assignee").all_inner_texts() == [coordinator.display()] * 3
    screenshot("sweep-bulk-assigned")
    for case in cases[:3]:
        case.refresh_from_db()
        assert case.assignee_id == coordinator.pk

    # the dashboard, charts with their tables
    page.click("nav[aria-label=Main] >> text=Dashboard")
    page.wait_for_selector("#metric-responses svg")
    assert page.locator("#metric-cms table").is_visible()
    screenshot("dashboard")
