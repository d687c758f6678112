"""The front desk enters a service date by hand on the case page (no EHR appointment): in place, marked."""

import pytest

from cases.models import Order, Status
from tests import factories as f

pytestmark = pytest.mark.e2e


@pytest.mark.django_db(transaction=True)
def test_front_desk_sets_the_service_date_by_hand(
    login, page, live_server, practice, owner_provider, payer, front_desk
):
    # given an open case whose order the EHR has not scheduled
    order = f.OrderFactory(practice=practice, ordering_provider=owner_provider, scheduled_date=None)
    case = f.CaseFactory(order=order, payer=payer, status=Status.GATHERING)
    csp_errors = []
    page.on("console", lambda msg: csp_errors.append(msg.text) if "Content Security Policy" in msg.text else None)
    # when the front desk opens it and sets the date
    login(front_desk)
    page.goto(f"{live_server.url}/cases/{case.pk}/")
    page.evaluate("window.__noReload = 1")
    page.click("text=Set service date")
    page.fill(f"#schedule-{case.pk}", "2026-12-18")
    page.click(f"#schedule-{case.pk} ~ button[type=submit]")
    # then the header shows it, marked as entered by hand, without a page load and under the strict CSP
    page.wait_for_selector(f"#case-{case.pk}-service-date >> text=entered by hand")
    assert "Dec 18, 2026" in page.inner_text(f"#case-{case.pk}-service-date")
    assert page.evaluate("window.__noReload") == 1
    assert not csp_errors
    order.refresh_from_db()
    assert (str(order.scheduled_date), order.scheduled_source) == ("2026-12-18", Order.ScheduleSource.MANUAL)
