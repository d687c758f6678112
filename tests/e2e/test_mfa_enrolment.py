import time

import pytest
from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value

pytestmark = pytest.mark.e2e


@pytest.mark.django_db(transaction=True)
def test_first_sign_in_enrols_an_authenticator_app_then_works(
    login, coordinator, case, page, live_server, settings, screenshot
):
    # given DEMO_MODE off: every user needs a second factor
    settings.DEMO_MODE = False
    refused = []
    page.on("console", lambda msg: refused.append(msg.text) if "Content Security Policy" in msg.text else None)
    # when the coordinator signs in with their password, then they land on enrolment, asked for the password again
    login(coordinator)
    assert "/accounts/reauthenticate/" in page.url
    page.fill("input[name=password]", "test-pass-123")
    page.click("main button[type=submit]")
    page.wait_for_url("**/accounts/2fa/totp/activate/")
    # the QR code shows (a data: image, allowed by the CSP) with the secret beside it
    assert page.locator("img[src^='data:image/svg+xml']").is_visible()
    screenshot("mfa-enrol")
    secret = page.input_value("#authenticator_secret")
    page.fill("input[name=code]", format_hotp_value(hotp_value(secret, int(time.time()) // 30)))
    page.click("main button[type=submit]")
    # then the recovery codes are shown once, and the queue opens
    page.wait_for_url("**/accounts/2fa/recovery-codes/")
    page.goto(f"{live_server.url}/")
    assert page.locator(f"#case-{case.pk}").is_visible()
    assert refused == []
