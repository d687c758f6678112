"""The two `Notifier`s: Twilio, and a console/file stand-in for the embedded setup and tests.

This package is the only place that imports `twilio`.
"""

from __future__ import annotations

import json
import logging
import secrets
from datetime import datetime, timedelta
from pathlib import Path

from django.utils import timezone
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from integrations.base import IntegrationError, Notifier, SentMessage
from integrations.sms_twilio.config import SmsConfig, sms_config

log = logging.getLogger(__name__)

# Twilio error codes after which sending again can never succeed.
PERMANENT_ERROR_CODES = {
    21211: "Invalid phone number",
    21610: "Patient unsubscribed (replied STOP)",
    21612: "Number cannot be reached from our sender",
    21614: "Not a mobile number (landline?)",
    21635: "Number is a landline",
    21408: "Texting to this region is not enabled",
}
# HTTP statuses worth retrying; any other 4xx is a request Twilio will never accept.
TRANSIENT_HTTP = {408, 409, 429}
HTTP_TIMEOUT_SECONDS = 20


def _masked(number: str) -> str:
    return f"…{number[-4:]}" if number else "?"


class TwilioNotifier:
    name = "twilio"

    def __init__(self, config: SmsConfig):
        self.config = config
        self.client = Client(
            config.account_sid,
            config.auth_token,
            http_client=TwilioHttpClient(timeout=HTTP_TIMEOUT_SECONDS),
        )
        if config.api_base_url:
            self.client.api.base_url = config.api_base_url

    def send(self, *, to: str, body: str, status_callback: str | None = None) -> SentMessage:
        params = {"to": to, "body": body}
        # A Messaging Service picks the sender and applies Twilio's STOP handling
        # across all its numbers; a single number is the simpler setup.
        if self.config.messaging_service_sid:
            params["messaging_service_sid"] = self.config.messaging_service_sid
        else:
            params["from_"] = self.config.from_number
        if status_callback:
            params["status_callback"] = status_callback
        try:
            message = self.client.messages.create(**params)
        except TwilioRestException as exc:
            raise _integration_error(exc) from exc
        except (TwilioException, OSError) as exc:  # connection refused, timeout, TLS
            raise IntegrationError(f"Twilio unreachable: {type(exc).__name__}") from exc
        return SentMessage(sid=message.sid, state=message.status or "queued")

    def find_sent(self, *, to: str, body: str, since: datetime) -> SentMessage | None:
        # Twilio's message list cannot be filtered by our key or the callback URL,
        # only by To/From/DateSent; DateSent is a day and is empty while a message
        # is still queued, so list recent messages to the number and match the
        # exact body and creation time here. A body names the case, so two cases
        # never match; the same case's earlier text was created before `since`.
        try:
            messages = self.client.messages.list(to=to, limit=50, page_size=50)
        except TwilioRestException as exc:
            raise _integration_error(exc) from exc
        except (TwilioException, OSError) as exc:
            raise IntegrationError(f"Twilio unreachable: {type(exc).__name__}") from exc
        floor = since - timedelta(seconds=60)  # clock skew between us and Twilio
        for message in messages:
            created = message.date_created
            if message.body == body and created is not None and created >= floor:
                return SentMessage(sid=message.sid, state=message.status or "queued")
        return None


def _integration_error(exc: TwilioRestException) -> IntegrationError:
    code = exc.code
    if code in PERMANENT_ERROR_CODES:
        error = IntegrationError(f"{code}: {PERMANENT_ERROR_CODES[code]}", permanent=True)
    elif exc.status >= 500 or exc.status in TRANSIENT_HTTP:
        error = IntegrationError(f"Twilio HTTP {exc.status}" + (f" ({code})" if code else ""), permanent=False)
    else:
        # 400/401/404/422: our request or credentials are wrong; retrying the
        # same request will not fix it, a person must.
        error = IntegrationError(f"Twilio rejected the request: HTTP {exc.status} {code or ''}".strip(), permanent=True)
    error.code = str(code or exc.status)
    return error


class ConsoleNotifier:
    """Embedded default: nothing leaves the machine.

    Logs one line per message (masked number, no text). With SMS_CONSOLE_FILE
    set, appends each message as a JSON line, which `find_sent` reads back, so
    the reconciliation path can be exercised without Twilio.
    """

    name = "console"

    def __init__(self, config: SmsConfig):
        self.path = Path(config.console_file) if config.console_file else None

    def send(self, *, to: str, body: str, status_callback: str | None = None) -> SentMessage:
        sid = "SM" + secrets.token_hex(16)
        log.info("console SMS %s to %s (%d chars)", sid, _masked(to), len(body))
        if self.path:
            record = {"sid": sid, "to": to, "body": body, "created": timezone.now().isoformat()}
            with self.path.open("a", encoding="utf-8") as handle:
                handle.write(json.dumps(record) + "\n")
        return SentMessage(sid=sid, state="sent")

    def find_sent(self, *, to: str, body: str, since: datetime) -> SentMessage | None:
        if not self.path or not self.path.exists():
            return None
        for line in self.path.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            created = datetime.fromisoformat(record["created"])
            if record["to"] == to and record["body"] == body and created >= since - timedelta(seconds=60):
                return SentMessage(sid=record["sid"], state="sent")
        return None


def get_notifier(config: SmsConfig | None = None) -> Notifier:
    config = config or sms_config()
    return TwilioNotifier(config) if config.backend == "twilio" else ConsoleNotifier(config)
