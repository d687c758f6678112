"""A browser walks the main pages as a manager: no patient name or MRN in any URL it requests or
shows, and nothing of a patient in the page's storage after sign-out (issue 18 item 5)."""

import pytest
from playwright.sync_api import expect

from cases.models import Status
from tests import factories as f

pytestmark = pytest.mark.e2e


@pytest.fixture
def patients(practice, owner_provider, payer, coordinator):
    cases = []
    for first, last, status in (
        ("Anabel", "Quintero", Status.GATHERING),
        ("Bonita", "Baker", Status.READY),
        ("Cyrus", "Chenoweth", Status.SUBMITTED),
    ):
        order = f.OrderFactory(
            practice=practice, ordering_provider=owner_provider, patient__first_name=first, patient__last_name=last
        )
        case = f.CaseFactory(order=order, payer=payer, status=status)
        f.TaskFactory(case=case, role="manager")
        cases.append(case)
    return cases


@pytest.mark.django_db(transaction=True)
def test_no_patient_data_in_urls_or_storage(login, page, live_server, manager, patients):
    phi = {p for c in patients for p in (c.patient.first_name, c.patient.last_name, c.patient.mrn)}
    seen: list[str] = []
    page.on("request", lambda request: seen.append(request.url))
    page.on("framenavigated", lambda frame: seen.append(frame.url))

    # given a manager at the queue
    login(manager)
    quintero = patients[0]
    page.wait_for_selector(f"#case-{quintero.pk}")
    # when they search by name, then by MRN (htmx swaps the results in place)
    page.fill("#id_q", "Quintero")
    expect(page.locator("#queue-results")).not_to_contain_text("Baker")  # not wait_for_function: the CSP refuses eval
    seen.append(page.url)
    page.fill("#id_q", patients[1].patient.mrn)
    expect(page.locator("#queue-results")).not_to_contain_text("Quintero")
    seen.append(page.url)
    # … open the case, go back, and walk the other pages
    page.fill("#id_q", "")
    page.wait_for_selector(f"#case-{quintero.pk}")
    page.click(f"#case-{quintero.pk} a")
    page.wait_for_selector(f"#case-{quintero.pk}-timeline")
    page.go_back()
    page.wait_for_selector(f"#case-{quintero.pk}")
    for path in ("/tasks/", "/sweep/", "/dashboard/", "/audit/"):
        page.goto(f"{live_server.url}{path}")
        seen.append(page.url)
    # the compliance search by MRN is posted too
    page.fill("#id_mrn", quintero.patient.mrn)
    page.click("#patient-lookup button[type=submit]")
    page.wait_for_selector("#audit-rows")
    seen.append(page.url)
    storage_before = page.evaluate("JSON.stringify([Object.entries(sessionStorage), Object.entries(localStorage)])")
    # then sign out
    page.click("text=Sign out")
    page.wait_for_url("**/login/**")
    storage_after = page.evaluate("JSON.stringify([Object.entries(sessionStorage), Object.entries(localStorage)])")

    assert len(seen) > 10
    leaked = sorted({(url, word) for url in seen for word in phi if word.lower() in url.lower()})
    assert leaked == [], leaked
    # htmx's history cache is off: no page copies in storage, before or after sign-out
    assert "htmx-history-cache" not in storage_before
    assert not [word for word in phi if word in storage_before or word in storage_after]
