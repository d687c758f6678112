"""Password guessing is stopped per account and per address (django-axes), audited, and an admin can unlock."""

from datetime import timedelta

import pytest
import time_machine
from auditlog.models import LogEntry
from django.urls import reverse
from django.utils import timezone

from tests import factories as f

PASSWORD = "test-pass-123"


@pytest.fixture
def user(practice):
    return f.UserFactory(practice=practice, username="carol", roles=["coordinator"])


def _sign_in(client, username, password, ip="10.0.0.7"):
    return client.post(reverse("login"), {"login": username, "password": password}, REMOTE_ADDR=ip)


def test_five_wrong_passwords_lock_the_account_even_for_the_right_one(client, user, settings):
    settings.AXES_FAILURE_LIMIT = 5
    # given four wrong passwords, each answered as a failed sign-in
    for _ in range(4):
        assert _sign_in(client, "carol", "wrong-guess").status_code == 200
    # when the fifth fails, then the account is locked
    assert _sign_in(client, "carol", "wrong-guess").status_code == 429
    # and the right password from another address is refused too (per account)
    response = _sign_in(client, "carol", PASSWORD, ip="10.9.9.9")
    assert response.status_code == 429
    assert "Too many failed sign-ins" in response.content.decode()
    assert "_auth_user_id" not in client.session
    # and the lockout is audited with its end
    entry = LogEntry.objects.get_for_object(user).get(additional_data__event="locked_out")
    until = timezone.datetime.fromisoformat(entry.additional_data["until"])
    assert timedelta(minutes=14) < until - timezone.now() <= timedelta(minutes=15)


def test_a_password_spray_from_one_address_locks_the_address(client, practice, settings):
    settings.AXES_FAILURE_LIMIT = 5
    users = [f.UserFactory(practice=practice, username=f"staff{i}") for i in range(6)]
    # given one wrong password for each of five accounts from one address
    for u in users[:5]:
        _sign_in(client, u.username, "Winter2026!", ip="10.6.6.6")
    # then the sixth account's right password from that address is refused
    assert _sign_in(client, users[5].username, PASSWORD, ip="10.6.6.6").status_code == 429
    # while the same account signs in from elsewhere
    assert _sign_in(client, users[5].username, PASSWORD, ip="10.1.1.1").status_code == 302


def test_the_lockout_ends_after_the_cool_off(client, user, settings):
    settings.AXES_FAILURE_LIMIT = 3
    for _ in range(3):
        _sign_in(client, "carol", "wrong-guess")
    assert _sign_in(client, "carol", PASSWORD).status_code == 429
    # when the cool-off (15 minutes) has passed, then the right password works
    with time_machine.travel(timezone.now() + timedelta(minutes=16)):
        assert _sign_in(client, "carol", PASSWORD).status_code == 302


def test_an_admin_unlocks_the_account_and_it_is_audited(client, user, practice, settings):
    settings.AXES_FAILURE_LIMIT = 3
    for _ in range(3):
        _sign_in(client, "carol", "wrong-guess")
    assert _sign_in(client, "carol", PASSWORD).status_code == 429
    # when an admin runs "Unlock sign-in" on the user
    admin_user = f.UserFactory(practice=practice, username="root", is_staff=True, is_superuser=True)
    admin_client = type(client)()
    admin_client.force_login(admin_user)
    response = admin_client.post(
        reverse("admin:cases_user_changelist"), {"action": "unlock_sign_in", "_selected_action": [user.pk]}
    )
    assert response.status_code == 302
    # then the right password works at once, and the unlock is audited with who did it
    assert _sign_in(client, "carol", PASSWORD, ip="10.2.2.2").status_code == 302
    entry = LogEntry.objects.get_for_object(user).get(additional_data__event="unlocked")
    assert entry.actor == admin_user and entry.additional_data["attempts_cleared"] >= 1


@pytest.mark.parametrize("weak", ["password1234", "qwertyuiop", "1234567890123"])
def test_a_common_password_is_refused_when_it_is_set(as_user, coordinator, weak):
    client = as_user("coordinator")
    response = client.post(
        reverse("account_change_password"), {"oldpassword": PASSWORD, "password1": weak, "password2": weak}
    )
    # then the form says why and the password is unchanged
    assert response.status_code == 200
    assert "too common" in response.content.decode() or "entirely numeric" in response.content.decode()
    coordinator.refresh_from_db()
    assert coordinator.check_password(PASSWORD)


@pytest.mark.parametrize(
    "proxies,forwarded,expected",
    [
        (0, "203.0.113.9", "10.0.0.1"),  # no proxy trusted: a client cannot pick its own address
        (1, "203.0.113.9", "203.0.113.9"),
        (1, "198.51.100.7, 203.0.113.9", "203.0.113.9"),  # the left entry is the client's claim, not trusted
        (2, "198.51.100.7, 203.0.113.9", "198.51.100.7"),
    ],
)
def test_the_locked_address_is_the_clients_as_the_trusted_proxies_saw_it(settings, proxies, forwarded, expected):
    from django.test import RequestFactory

    from priorauth.security import client_ip

    settings.TRUSTED_PROXY_COUNT = proxies
    request = RequestFactory().post("/login/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR=forwarded)
    assert client_ip(request) == expected
