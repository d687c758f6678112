"""The seams every outside system plugs into.

Each channel module (integrations/<channel>) is the only place that imports
its vendor SDK and turns that SDK's errors into `IntegrationError`.
"""

from __future__ import annotations


class IntegrationError(Exception):
    """An outside system failed. `permanent=True` means retrying will not help
    (invalid phone number, payer rejected the request's shape); otherwise the
    caller retries with backoff (timeouts, 503s)."""

    def __init__(self, message: str, *, permanent: bool = False):
        super().__init__(message)
        self.permanent = permanent


# --- Patient messaging (integrations/sms_twilio) -------------------------------------------------

from dataclasses import dataclass  # noqa: E402
from datetime import datetime  # noqa: E402
from typing import Protocol, runtime_checkable  # noqa: E402


@dataclass(frozen=True)
class SentMessage:
    """What a notifier learned from handing a message over: the provider's id and its status."""

    sid: str
    state: str


@runtime_checkable
class Notifier(Protocol):
    """Sends one text message to a patient. Implementations raise `IntegrationError`."""

    name: str

    def send(self, *, to: str, body: str, status_callback: str | None = None) -> SentMessage:
        """Hand `body` to the provider for `to` (E.164). Returns the provider's message id."""
        ...

    def find_sent(self, *, to: str, body: str, since: datetime) -> SentMessage | None:
        """A message with this exact body sent to `to` at or after `since`, if the provider has one.

        Used to reconcile a send whose result was never saved (a crash between
        the provider accepting it and our commit), so it is not sent twice.
        """
        ...
