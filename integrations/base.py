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


# --- Payer channels (integrations/pas, later x12_278, fax, portal …) -----------------------------

from datetime import date  # noqa: E402
from enum import StrEnum  # noqa: E402


class DecisionStatus(StrEnum):
    """What a payer said about a request, the same for every channel."""

    APPROVED = "approved"  # certified in total (X12 306 A1)
    PARTIALLY_APPROVED = "partially_approved"  # certified partial or modified (A2, A6)
    DENIED = "denied"  # not certified (A3)
    PENDED = "pended"  # pended: the payer wants more information or review (A4)
    STILL_PENDING = "still_pending"  # received, no decision yet
    NOT_REQUIRED = "not_required"  # no action required: no authorization needed (NA)
    CONTACT_PAYER = "contact_payer"  # the payer asks the provider to call (CT)
    CANCELLED = "cancelled"  # the payer cancelled the request (C)
    ERROR = "error"  # the payer rejected the request as malformed (an OperationOutcome)


@dataclass(frozen=True)
class ItemDecision:
    """The decision on one requested service line."""

    sequence: int
    status: DecisionStatus
    review_action_code: str = ""
    authorization_number: str = ""
    effective_start: date | None = None
    effective_end: date | None = None
    units_approved: float | None = None
    reason_code: str = ""


@dataclass(frozen=True)
class PayerDecision:
    """One payer answer, normalised. Channels build it; `integrations.pas.outcomes` applies it.

    `decided_at` is the payer's own timestamp (ClaimResponse.created, the 278's
    date), used to ignore an answer older than one already applied.
    `raw_reference` points at the stored payload (e.g. "pas.Exchange/42").
    """

    status: DecisionStatus
    authorization_number: str = ""
    effective_start: date | None = None
    effective_end: date | None = None
    units_approved: float | None = None
    items: tuple[ItemDecision, ...] = ()
    reason_code: str = ""
    reason_text: str = ""
    info_requested: tuple[str, ...] = ()
    payer_tracking_id: str = ""
    review_action_code: str = ""
    decided_at: datetime | None = None
    raw_reference: str = ""
    shape: str = ""  # which response layout was read, e.g. "pas-2" or "pas-ri"

    @property
    def is_final(self) -> bool:
        return self.status in (
            DecisionStatus.APPROVED,
            DecisionStatus.PARTIALLY_APPROVED,
            DecisionStatus.DENIED,
            DecisionStatus.NOT_REQUIRED,
        )


@dataclass(frozen=True)
class SubmissionReceipt:
    """What the payer acknowledged on submission: its tracking id, and a decision if it decided at once."""

    tracking_id: str
    decision: PayerDecision | None = None
    raw_reference: str = ""


@runtime_checkable
class PayerChannel(Protocol):
    """Submits a case to a payer and asks about it. Implementations raise `IntegrationError`.

    Called only from background tasks. Each outbound call is first written as a
    row (integrations.pas.models.Exchange) so every attempt leaves a trace.
    """

    name: str

    def submit(self, case, *, submission_key: str, replaces_key: str = "", message: str = "") -> SubmissionReceipt:
        """Send the case's request. `submission_key` is our idempotency key: the
        payer sees it as the request's identifier, so a retry after a lost
        answer can find the first attempt instead of submitting twice.

        With `replaces_key` the request updates the one sent under that key
        (answering a payer that pended it): the same services, what was added
        since, and `message`, staff's words to the payer."""
        ...

    def check_status(self, case, *, submission_key: str) -> PayerDecision | None:
        """The payer's current answer for the request sent under `submission_key`,
        or None when the payer does not know the request."""
        ...

    def cancel(self, case, *, submission_key: str, cancel_key: str = "") -> PayerDecision:
        """Withdraw the request sent under `submission_key`. `cancel_key` names the
        cancellation itself, so a retry is the same request to the payer. Returns
        the payer's answer (status CANCELLED when it confirms). Channels that
        cannot cancel set `cancels = False` and raise IntegrationError(permanent=True)."""
        ...
