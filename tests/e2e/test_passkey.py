"""WebAuthn (security keys and passkeys) in a real browser, with DEMO_MODE off (README "Sign-in and MFA").

Chromium's DevTools virtual authenticator plays the key: it answers `navigator.credentials.create/get` as a
platform authenticator with user verification (a fingerprint or PIN) would. The site is served on
http://localhost, the one plain-http origin browsers treat as secure enough for WebAuthn.
"""

import pytest
from allauth.mfa.models import Authenticator

from cases.audit.models import AccessLog

pytestmark = pytest.mark.e2e

PASSWORD = "test-pass-123"


@pytest.fixture
def authenticator(page):
    """A virtual authenticator attached to the page's browser context; yields the DevTools session."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    added = cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
            }
        },
    )
    cdp.authenticator_id = added["authenticatorId"]
    return cdp


@pytest.fixture
def csp_refusals(page):
    refused = []
    page.on("console", lambda msg: refused.append(msg.text) if "Content Security Policy" in msg.text else None)
    page.on("pageerror", lambda error: refused.append(str(error)))
    return refused


def _password_sign_in(page, live_server, user):
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_login", user.username)
    page.fill("#id_password", PASSWORD)
    page.click("main form[action='/login/'] button[type=submit]")


def _enrol_passkey(page, live_server, user, passwordless=False):
    """First sign-in with DEMO_MODE off: password, password again, then a security key instead of an app."""
    _password_sign_in(page, live_server, user)
    page.wait_for_url("**/accounts/reauthenticate/**")
    page.fill("input[name=password]", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url("**/accounts/2fa/totp/activate/")
    page.click("text=Use a security key or passkey instead")
    page.wait_for_url("**/accounts/2fa/webauthn/add/")
    page.fill("input[name=name]", "Office laptop")
    if passwordless:
        page.check("input[name=passwordless]")
    page.click("#mfa_webauthn_add")
    # allauth makes recovery codes with the first factor and shows them once
    page.wait_for_url("**/accounts/2fa/recovery-codes/")


@pytest.mark.django_db(transaction=True)
def test_passkey_enrolled_at_first_sign_in_then_signs_in_with_it(
    page, live_server, settings, authenticator, csp_refusals, coordinator, case, screenshot
):
    # given DEMO_MODE off (every user needs a second factor) and a coordinator with none
    settings.DEMO_MODE = False
    # when they enrol a passkey as their factor at first sign-in
    _enrol_passkey(page, live_server, coordinator)
    # then the key is stored, its credential is in the virtual authenticator, and the queue opens
    keys = Authenticator.objects.filter(user=coordinator, type=Authenticator.Type.WEBAUTHN)
    assert [k.wrap().name for k in keys] == ["Office laptop"]
    assert (
        len(
            authenticator.send("WebAuthn.getCredentials", {"authenticatorId": authenticator.authenticator_id})[
                "credentials"
            ]
        )
        == 1
    )
    page.goto(f"{live_server.url}/")
    assert page.locator(f"#case-{case.pk}").is_visible()

    # when they sign out and sign in again with their password
    page.click("header form[action='/logout/'] button")
    page.wait_for_url("**/login/**")
    _password_sign_in(page, live_server, coordinator)
    # then they are asked for the second factor, and are offered the key
    page.wait_for_url("**/accounts/2fa/authenticate/")
    screenshot("mfa-passkey-authenticate")
    # when they use it
    page.click("#mfa_webauthn_authenticate")
    # then the queue opens, and the access log has both sign-ins (enrolment's and the key's) and the sign-out
    page.wait_for_url(f"{live_server.url}/")
    assert page.locator(f"#case-{case.pk}").is_visible()
    actions = list(
        AccessLog.objects.filter(user=coordinator, what__in=["sign-in", "sign-out"]).values_list("action", flat=True)
    )
    assert sorted(actions) == ["login", "login", "logout"]
    assert csp_refusals == []


@pytest.mark.django_db(transaction=True)
def test_password_without_the_passkey_reaches_no_page(
    page, live_server, settings, authenticator, csp_refusals, coordinator, case
):
    # given DEMO_MODE off and a coordinator who enrolled a passkey, then signed out
    settings.DEMO_MODE = False
    _enrol_passkey(page, live_server, coordinator)
    page.click("header form[action='/logout/'] button")
    page.wait_for_url("**/login/**")
    # when they give only their password and then go anywhere but the second-factor page
    _password_sign_in(page, live_server, coordinator)
    page.wait_for_url("**/accounts/2fa/authenticate/")
    for path in ("/", f"/cases/{case.pk}/", "/tasks/", "/accounts/2fa/", "/accounts/2fa/webauthn/add/"):
        page.goto(f"{live_server.url}{path}")
        # then each sends them back to sign in or to the second factor (allauth resumes the pending sign-in),
        # and no case is shown
        landed = page.url.removeprefix(live_server.url).split("?")[0]
        assert landed in ("/login/", "/accounts/2fa/authenticate/"), (path, page.url)
        assert page.locator(f"#case-{case.pk}").count() == 0, path
        assert page.locator("header form[action='/logout/']").count() == 0, path
    # and the password alone signed nobody in: the only sign-in on the access log is the enrolment's
    assert AccessLog.objects.filter(user=coordinator, action=AccessLog.Action.LOGIN).count() == 1
    assert csp_refusals == []


@pytest.mark.django_db(transaction=True)
def test_passwordless_passkey_signs_in_from_the_sign_in_page(
    page, live_server, settings, authenticator, csp_refusals, coordinator, case
):
    # given DEMO_MODE off and a coordinator who enrolled a passkey marked "Passwordless" (a discoverable credential
    # with user verification: the device's fingerprint or PIN is the second factor), then signed out
    settings.DEMO_MODE = False
    _enrol_passkey(page, live_server, coordinator, passwordless=True)
    page.click("header form[action='/logout/'] button")
    page.wait_for_url("**/login/**")
    # when they choose "Sign in with a passkey" without typing a username or password
    page.click("#passkey_login")
    # then the queue opens
    page.wait_for_url(f"{live_server.url}/")
    assert page.locator(f"#case-{case.pk}").is_visible()
    assert csp_refusals == []


@pytest.mark.django_db(transaction=True)
def test_a_refused_key_is_explained_on_the_page(page, live_server, settings, authenticator, csp_refusals, coordinator):
    # given DEMO_MODE off and the app opened at http://127.0.0.1, where the browser refuses WebAuthn (an IP address
    # cannot be a relying party id)
    settings.DEMO_MODE = False
    origin = live_server.url.replace("localhost", "127.0.0.1")
    page.goto(f"{origin}/login/")
    page.fill("#id_login", coordinator.username)
    page.fill("#id_password", PASSWORD)
    page.click("main form[action='/login/'] button[type=submit]")
    page.wait_for_url("**/accounts/reauthenticate/**")
    page.fill("input[name=password]", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url("**/accounts/2fa/totp/activate/")
    # when they try to add a security key
    page.click("text=Use a security key or passkey instead")
    page.click("#mfa_webauthn_add")
    # then the page says why nothing happened and what to do, and no key is stored
    alert = page.locator("#webauthn-error[role=alert]")
    alert.wait_for()
    assert "refuses security keys and passkeys on this address" in alert.inner_text()
    assert page.url.endswith("/accounts/2fa/webauthn/add/")
    assert not Authenticator.objects.filter(user=coordinator).exists()
    assert csp_refusals == []
