"""Automatic logoff: only a person's requests renew the idle timer; an absolute lifetime ends every session."""

from datetime import timedelta

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from tests.access_matrix import covers

POLL = {"HTTP_HX_REQUEST": "true", "HTTP_X_BACKGROUND_POLL": "1"}


@pytest.fixture
def clock():
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        yield traveller


def _signed_out(response, reason):
    return response.status_code == 302 and response["Location"] == f"{reverse('login')}?signed_out={reason}"


def test_a_background_poll_does_not_extend_the_idle_session(as_user, case, clock, settings):
    settings.SESSION_IDLE_SECONDS = 15 * 60
    client = as_user("coordinator")
    assert client.get(reverse("cases:detail", args=[case.pk])).status_code == 200
    # given the case page polls its submission panel for ten minutes with nobody at the keyboard
    poll = reverse("submission:case_submission", args=[case.pk])
    for _ in range(10):
        clock.shift(timedelta(minutes=1))
        assert client.get(poll, **POLL).status_code == 200
    # when six more minutes pass (sixteen since the person's last request), then the next request signs out
    clock.shift(timedelta(minutes=6))
    assert _signed_out(client.get(reverse("cases:queue")), "idle")
    assert "_auth_user_id" not in client.session


def test_a_click_extends_the_idle_session(as_user, case, clock, settings):
    settings.SESSION_IDLE_SECONDS = 15 * 60
    client = as_user("coordinator")
    client.get(reverse("cases:queue"))
    # given a person who clicks after ten minutes
    clock.shift(timedelta(minutes=10))
    assert client.get(reverse("cases:detail", args=[case.pk])).status_code == 200
    # when ten more minutes pass (twenty since sign-in), then they are still signed in
    clock.shift(timedelta(minutes=10))
    assert client.get(reverse("cases:queue")).status_code == 200


def test_an_idle_htmx_poll_sends_the_whole_window_to_sign_in(as_user, case, clock, settings):
    settings.SESSION_IDLE_SECONDS = 15 * 60
    client = as_user("coordinator")
    client.get(reverse("cases:queue"))
    clock.shift(timedelta(minutes=16))
    response = client.get(reverse("submission:case_submission", args=[case.pk]), **POLL)
    # not a sign-in form swapped into the panel: htmx navigates the window
    assert response["HX-Redirect"] == reverse("login")
    assert "_auth_user_id" not in client.session


def test_the_absolute_lifetime_ends_a_busy_session(as_user, clock, settings):
    settings.SESSION_IDLE_SECONDS = 15 * 60
    settings.SESSION_ABSOLUTE_SECONDS = 12 * 60 * 60
    client = as_user("coordinator")
    client.get(reverse("cases:queue"))
    # given a person who works every ten minutes for almost twelve hours
    for _ in range(71):
        clock.shift(timedelta(minutes=10))
        assert client.get(reverse("cases:queue")).status_code == 200
    # when the twelfth hour is reached, then the session ends however busy it was
    clock.shift(timedelta(minutes=10))
    assert _signed_out(client.get(reverse("cases:queue")), "lifetime")


@covers("session_keepalive")
@pytest.mark.parametrize("who", ["coordinator", "manager", "front_desk", "owner_clinician", "outsider"])
def test_stay_signed_in_renews_the_idle_timer(as_user, who, clock, settings):
    settings.SESSION_IDLE_SECONDS = 15 * 60
    client = as_user(who)
    client.get(reverse("cases:queue"))
    clock.shift(timedelta(minutes=14))
    # when the warning's "Stay signed in" is pressed (POST; a GET is refused)
    assert client.get(reverse("session_keepalive")).status_code == 405
    response = client.post(reverse("session_keepalive"))
    assert response.status_code == 200 and response.json() == {"idle_seconds": 900}
    # then the session lives another full idle period
    clock.shift(timedelta(minutes=14))
    assert client.get(reverse("cases:queue")).status_code == 200


def test_pages_carry_the_idle_warning_and_polls_are_marked(as_user, case):
    client = as_user("coordinator")
    body = client.get(reverse("cases:queue")).content.decode()
    assert '<meta name="session-idle-seconds" content="900">' in body
    assert 'id="idle-warning"' in body and "js/session.js" in body


def test_every_polling_element_marks_its_requests_as_background():
    # A poll (`hx-trigger="every …"`) is no person's action: it must say so, or it keeps the session alive forever.
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "templates"
    tag = re.compile(r"<[a-z][^>]*\bhx-trigger=\"[^\"]*\bevery\b[^>]*>", re.IGNORECASE | re.DOTALL)
    polling = [(p, m.group(0)) for p in root.rglob("*.html") for m in tag.finditer(p.read_text())]
    assert polling, "no polling element found: the scan is looking in the wrong place"
    unmarked = [str(p) for p, t in polling if """hx-headers='{"X-Background-Poll": "1"}'""" not in t]
    assert unmarked == []
