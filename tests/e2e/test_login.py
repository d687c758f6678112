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
