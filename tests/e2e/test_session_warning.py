import pytest

pytestmark = pytest.mark.e2e


@pytest.mark.django_db(transaction=True)
def test_the_idle_warning_shows_and_stay_signed_in_renews(login, coordinator, page, live_server, settings):
    # given sessions that end after 62 idle seconds (the warning comes a minute before: after 2 s)
    settings.SESSION_IDLE_SECONDS = 62
    refused = []
    page.on("console", lambda msg: refused.append(msg.text) if "Content Security Policy" in msg.text else None)
    login(coordinator)
    warning = page.locator("#idle-warning")
    # when nothing happens on the page, then the warning appears
    warning.wait_for(state="visible", timeout=8_000)
    # when the person presses "Stay signed in", then it goes away and they are still signed in
    page.click("#idle-keepalive button")
    warning.wait_for(state="hidden", timeout=5_000)
    page.reload()
    assert "/login/" not in page.url
    # and the page ran under the strict CSP without a refusal
    assert refused == []
