"""Where texting is configured: the environment, read in one place."""

from __future__ import annotations

import os
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

BACKENDS = ("console", "twilio")


@dataclass(frozen=True)
class SmsConfig:
    backend: str  # "console" (embedded default, tests) or "twilio"
    account_sid: str
    auth_token: str
    messaging_service_sid: str
    from_number: str
    # The https origin Twilio calls back on, e.g. https://pa.example.org. Webhook
    # signatures are computed over the URL Twilio used, which behind a proxy is
    # not the one Django sees, so it is configured rather than guessed.
    public_base_url: str
    # Only for tests and sandboxes: point the Twilio client at a mock (Prism).
    api_base_url: str
    console_file: str

    def callback_url(self, path: str) -> str:
        return self.public_base_url.rstrip("/") + path if self.public_base_url else ""


def sms_config() -> SmsConfig:
    """Read the texting settings from the environment.

    With the Twilio backend every credential is required: a missing one raises
    `ImproperlyConfigured` (and `manage.py check` fails in production) rather
    than silently dropping patient messages.
    """
    env = os.environ
    production = getattr(settings, "PRODUCTION", False)
    backend = env.get("SMS_BACKEND", "twilio" if production else "console").strip().lower()
    if backend not in BACKENDS:
        raise ImproperlyConfigured(f"SMS_BACKEND must be one of {BACKENDS}, not {backend!r}.")
    config = SmsConfig(
        backend=backend,
        account_sid=env.get("TWILIO_ACCOUNT_SID", "").strip(),
        auth_token=env.get("TWILIO_AUTH_TOKEN", "").strip(),
        messaging_service_sid=env.get("TWILIO_MESSAGING_SERVICE_SID", "").strip(),
        from_number=env.get("TWILIO_FROM_NUMBER", "").strip(),
        # One reading of the variable for the whole app (priorauth/settings.py).
        public_base_url=(getattr(settings, "PUBLIC_BASE_URL", "") or "").strip().rstrip("/"),
        api_base_url=env.get("TWILIO_API_BASE_URL", "").strip().rstrip("/"),
        console_file=env.get("SMS_CONSOLE_FILE", "").strip(),
    )
    if backend == "twilio":
        missing = [
            name
            for name, value in (
                ("TWILIO_ACCOUNT_SID", config.account_sid),
                ("TWILIO_AUTH_TOKEN", config.auth_token),
                (
                    "TWILIO_MESSAGING_SERVICE_SID or TWILIO_FROM_NUMBER",
                    config.messaging_service_sid or config.from_number,
                ),
                ("PUBLIC_BASE_URL", config.public_base_url),
            )
            if not value
        ]
        if missing:
            raise ImproperlyConfigured(f"SMS_BACKEND=twilio needs {', '.join(missing)}.")
        if production and not config.public_base_url.startswith("https://"):
            raise ImproperlyConfigured("PUBLIC_BASE_URL must be https:// in production.")
    return config
