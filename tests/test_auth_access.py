"""Access matrix for the sign-in pages (django-allauth's account and MFA pages, the session keep-alive).

Sign-in, sign-up (closed), password reset and the pages of a sign-in in progress are open to everyone;
managing one's own factors, password and e-mail needs a signed-in session. Roles do not matter here: each page
is about the signed-in person's own account, so one staff user stands for all of them.
"""

import pytest
from django.urls import reverse

from tests.access_matrix import USERS, covers


@covers("login")
@pytest.mark.parametrize("who", USERS)
def test_login_page_is_open_to_everyone_and_sends_the_signed_in_on(as_user, who):
    response = as_user(who).get(reverse("login"))
    # then anyone may see it; a signed-in person is sent on to the queue
    if who == "anonymous":
        assert response.status_code == 200
    else:
        assert response.status_code == 302 and response["Location"] == reverse("cases:queue")


@covers("logout")
@pytest.mark.parametrize("who", USERS)
def test_logout_signs_out_and_redirects(as_user, who):
    client = as_user(who)
    # POST only: a link cannot sign you out (anonymous is sent to the login first, like every page)
    assert client.get(reverse("logout")).status_code == (302 if who == "anonymous" else 405)
    assert client.post(reverse("logout")).status_code == 302
    assert "_auth_user_id" not in client.session


# Open to a visitor who is not signed in: (name, args, GET status).
PUBLIC = [
    ("account_login", [], 200),
    ("account_signup", [], 200),  # says sign-up is closed: staff accounts are made by an admin
    ("account_reset_password", [], 200),
    ("account_reset_password_done", [], 200),
    ("account_reset_password_from_key", ["x", "y-z"], 200),  # an invalid key: says so
    ("account_reset_password_from_key_done", [], 200),
    ("account_inactive", [], 200),
    ("account_email_verification_sent", [], 200),
    ("account_confirm_email", ["not-a-key"], 200),
]
# Steps of a sign-in in progress: without one they send the visitor back to the sign-in page.
SIGN_IN_STEPS = [("account_confirm_login_code", []), ("mfa_authenticate", []), ("mfa_login_webauthn", [])]
# One's own account: a visitor is sent to sign in.
OWN_ACCOUNT = [
    ("account_change_password", []),
    ("account_set_password", []),
    ("account_email", []),
    ("account_reauthenticate", []),
    ("account_logout", []),
    ("mfa_index", []),
    ("mfa_activate_totp", []),
    ("mfa_deactivate_totp", []),
    ("mfa_view_recovery_codes", []),
    ("mfa_generate_recovery_codes", []),
    ("mfa_download_recovery_codes", []),
    ("mfa_list_webauthn", []),
    ("mfa_add_webauthn", []),
    ("mfa_edit_webauthn", [1]),
    ("mfa_remove_webauthn", [1]),
    ("mfa_reauthenticate", []),
    ("mfa_reauthenticate_webauthn", []),
    ("session_keepalive", []),
]


@pytest.mark.parametrize("name,args,status", [pytest.param(n, a, s, marks=covers(n), id=n) for n, a, s in PUBLIC])
@pytest.mark.parametrize("who", ["anonymous", "coordinator"])
def test_public_account_pages_answer_everyone(as_user, who, name, args, status):
    response = as_user(who).get(reverse(name, args=args))
    if who != "anonymous" and name in ("account_login", "account_signup"):
        status = 302  # a signed-in person has nothing to do there: sent on to the queue
    assert response.status_code == status


@pytest.mark.parametrize("name,args", [pytest.param(n, a, marks=covers(n), id=n) for n, a in SIGN_IN_STEPS])
@pytest.mark.parametrize("who", ["anonymous", "coordinator"])
def test_sign_in_steps_without_a_sign_in_in_progress_go_back(as_user, who, name, args):
    response = as_user(who).get(reverse(name, args=args))
    assert response.status_code == 302
    assert response["Location"] in (reverse("account_login"), reverse("cases:queue"))


@pytest.mark.parametrize("name,args", [pytest.param(n, a, marks=covers(n), id=n) for n, a in OWN_ACCOUNT])
def test_own_account_pages_need_a_signed_in_session(as_user, name, args):
    # given a visitor who is not signed in, when they open or post to the page, then they are sent to sign in
    client = as_user("anonymous")
    for response in (client.get(reverse(name, args=args)), client.post(reverse(name, args=args))):
        assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


@covers("mfa_index", "mfa_activate_totp", "mfa_view_recovery_codes", "mfa_list_webauthn", "mfa_add_webauthn")
@pytest.mark.parametrize("who", ["coordinator", "manager", "owner_clinician", "front_desk"])
def test_staff_reach_their_own_factor_pages(as_user, who):
    client = as_user(who)
    for name in ("mfa_index", "mfa_list_webauthn"):
        assert client.get(reverse(name)).status_code == 200, name
    # adding a factor asks for the password again unless the session signed in with it minutes ago
    # (force_login records no sign-in method)
    for name in ("mfa_activate_totp", "mfa_add_webauthn"):
        response = client.get(reverse(name))
        assert response.status_code == 302 and response["Location"].startswith(reverse("account_reauthenticate"))
    # no recovery codes before a first factor
    assert client.get(reverse("mfa_view_recovery_codes")).status_code == 404
