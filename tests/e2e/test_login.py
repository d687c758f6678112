import pytest

pytestmark = pytest.mark.e2e


@pytest.mark.django_db(transaction=True)
def test_coordinator_signs_in_and_lands_on_the_queue(login, coordinator, case, page, live_server):
    # given a coordinator with a case in their practice, when they sign in
    login(coordinator)
    # then they land on the queue and see the case
    assert page.url.rstrip("/") == live_server.url
    assert page.locator(f"#case-{case.pk}").is_visible()


@pytest.mark.django_db(transaction=True)
def test_anonymous_visitor_is_sent_to_login(page, live_server):
    page.goto(f"{live_server.url}/cases/1/")
    assert "/login/" in page.url


@pytest.mark.django_db(transaction=True)
def test_signed_in_pages_log_nothing_to_the_console(login, coordinator, case, page, live_server):
    # given a browser that records every console error and warning (a header the browser does not understand,
    # such as an unknown Permissions-Policy feature, is logged on every page and buries real errors)
    logged = []
    page.on("console", lambda msg: logged.append(msg.text) if msg.type in ("error", "warning") else None)
    # when a coordinator signs in and opens a case
    login(coordinator)
    page.goto(f"{live_server.url}/cases/{case.pk}/")
    page.wait_for_load_state("networkidle")
    # then the console stays quiet
    assert logged == []
