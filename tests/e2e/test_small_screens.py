"""Small screens and a compact queue (issue 16, item 10), in Chromium, with the 390 px screenshots."""

import datetime as dt

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from cases.models import Status
from cases.sweep.services import sweep_run
from tests import factories as f

pytestmark = pytest.mark.e2e


@pytest.fixture
def busy_queue(practice, owner_provider, payer, coordinator):
    """Twelve open cases with long names, services and plans: what makes a queue row wrap."""
    plan = f.PlanFactory(payer=payer, name="Acme Medicare Advantage Choice Plus (HMO-POS)")
    now = timezone.now()
    statuses = [Status.GATHERING, Status.READY, Status.SUBMITTED, Status.PENDED, Status.NEEDS_CLINICIAN, Status.DENIED]
    for i in range(12):
        order = f.OrderFactory(
            practice=practice,
            ordering_provider=owner_provider,
            patient__last_name=f"Montgomery-Richardson{i}",
            patient__first_name="Alexandria",
            description="Magnetic resonance imaging, brain, without contrast material, followed by contrast",
            scheduled_date=timezone.localdate() + dt.timedelta(days=3 + i),
        )
        f.CaseFactory(
            order=order,
            payer=payer,
            plan=plan,
            status=statuses[i % len(statuses)],
            assignee=coordinator if i % 2 else None,
            urgency="expedited" if i % 4 == 0 else "standard",
            decision_due_at=now + dt.timedelta(hours=5 + i),
        )
    sweep_run(practice=practice)


@pytest.mark.django_db(transaction=True)
def test_at_390_px_the_header_fits_and_the_queue_is_cards(
    login, page, live_server, coordinator, busy_queue, screenshot
):
    # given a phone-sized window
    page.set_viewport_size({"width": 390, "height": 844})
    login(coordinator)
    page.goto(f"{live_server.url}/?view=all")
    # then nothing is wider than the screen
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    # and "Sign out" is on screen
    sign_out = page.get_by_role("button", name="Sign out")
    assert sign_out.is_visible()
    box = sign_out.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 390
    # and each case is a card: its row is a block, its cells say what they are
    row = page.locator("table.queue tbody tr").first
    assert row.evaluate("el => getComputedStyle(el).display") == "block"
    label = row.locator("td[data-label=Status]").evaluate("el => getComputedStyle(el, '::before').content")
    assert label == '"Status"'
    # and the counts per status are there
    assert page.locator("#status-counts").is_visible()
    # and the cases come before the filters: those fold under "Filters", the first case is on the first screen
    filters = page.locator("#more-filters")
    expect(filters).not_to_have_attribute("open", "")
    assert not page.locator("#more-filters select[name=payer]").is_visible()
    assert row.bounding_box()["y"] < 844
    screenshot("queue-390")
    # and one tap on "Filters" shows them
    page.click("#more-filters > summary")
    expect(page.locator("#more-filters select[name=payer]")).to_be_visible()
    page.click("#more-filters > summary")

    page.click("table.queue tbody tr >> nth=0 >> a")
    page.wait_for_selector(".case-head")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot("case_page-390")

    page.goto(f"{live_server.url}/sweep/")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot("sweep-390")


@pytest.mark.django_db(transaction=True)
def test_at_desktop_width_the_queue_fits_and_its_rows_stay_short(
    login, page, live_server, manager, busy_queue, screenshot
):
    # given a 1280 px window and long names, services and plans
    page.set_viewport_size({"width": 1280, "height": 900})
    login(manager)
    page.goto(f"{live_server.url}/?view=all")
    # then the queue fits the window, with its filters open
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280
    expect(page.locator("#more-filters select[name=payer]")).to_be_visible()
    # and in every row the patient's name takes at most two lines (a long double-barrelled name
    # breaks once rather than being cut: a wrong-patient risk) and the MRN one line
    lines = page.evaluate(
        """() => [...document.querySelectorAll('table.queue td.who-cell')].map(td => [
             Math.round(td.querySelector('a').offsetHeight / parseFloat(getComputedStyle(td).lineHeight)),
             td.querySelector('.hint').getClientRects().length])"""
    )
    screenshot("queue-compact-1280")
    assert lines and all(name <= 2 and mrn == 1 for name, mrn in lines), lines
    # and a row is at most four lines tall (name on two, MRN, or the due clock on three)
    heights = page.evaluate("() => [...document.querySelectorAll('table.queue tbody tr')].map(tr => tr.offsetHeight)")
    line = page.evaluate("() => parseFloat(getComputedStyle(document.querySelector('table.queue td')).lineHeight)")
    assert max(heights) <= 4 * line + 16, (heights, line)
    screenshot("queue-compact-1280")
