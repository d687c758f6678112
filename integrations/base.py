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


class PayerResponseUnreadable(IntegrationError):
    """The payer answered, but not in a shape we can read. Nothing was applied.

    Transient for retries (the payer may answer properly next time; staff see
    the message) but not a sign the payer is down: it does not count against
    the payer's circuit breaker.
    """

    def __init__(self, message: str):
        super().__init__(message, permanent=False)


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


# --- Payer channels (one package each under integrations/, registered in integrations.registry) ---

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
    """One payer answer, normalised, whoever brought it: a channel's poll or
    notification, the answer to a submission, or a person recording what the
    payer said on the phone, fax or portal. `cases.decisions.decision_apply`
    applies it, the same way for every source.

    `decided_at` is the payer's own timestamp (the response's creation time,
    the 278's date), used to ignore an answer older than one already applied.
    `raw_reference` points at the stored payload (e.g. "submission.Exchange/42").
    `appeal_deadline` is the payer's own, when it states one; otherwise the
    payer's appeal window is counted from the day the denial is applied.
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
    shape: str = ""  # which response layout the channel read (its own label), or "manual"
    appeal_deadline: date | None = None

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

    The engine (integrations.submission) drives every channel the same way and
    reads only these names. Capabilities:

    - `automated`: the channel reaches the payer itself, from background tasks,
      each call first written as an `integrations.submission.models.Exchange`
      row. A channel that is not automated is worked by people: its methods
      write staff tasks (no outside call), so the engine calls them at once.
    - `can_poll`: `check_status` is worth calling on the payer's cadence. For
      a channel worked by hand, a "check" is a follow-up task for a person.
    - `can_update`: additional information answering a pended request goes
      through `submit(replaces_key=…)`.
    - `can_cancel`: `cancel` withdraws a request (a person's task counts for a
      channel worked by hand).
    """

    name: str
    automated: bool
    can_poll: bool
    can_update: bool
    can_cancel: bool

    def submit(
        self, case, *, submission_key: str, replaces_key: str = "", message: str = ""
    ) -> SubmissionReceipt | None:
        """Send the case's request. `submission_key` is our idempotency key: the
        payer sees it as the request's identifier, so a retry after a lost
        answer can find the first attempt instead of submitting twice.

        With `replaces_key` the request updates the one sent under that key
        (answering a payer that pended it): the same services, what was added
        since, and `message`, staff's words to the payer.

        Returns the payer's receipt, or None when a person sends it (the
        receipt is what staff record once the payer has it)."""
        ...

    def check_status(self, case, *, submission_key: str) -> PayerDecision | None:
        """The payer's current answer for the request sent under `submission_key`,
        or None when the payer does not know the request (or, worked by hand,
        when a person was asked to find out)."""
        ...

    def cancel(self, case, *, submission_key: str, cancel_key: str = "", reason: str = "") -> PayerDecision | None:
        """Withdraw the request sent under `submission_key`. `cancel_key` names the
        cancellation itself, so a retry is the same request to the payer; `reason`
        is staff's, for a person who calls (a payer API has no place for it). Returns
        the payer's answer (status CANCELLED when it confirms), or None when a
        person was asked to withdraw it."""
        ...

    def on_awaiting(self, case) -> None:
        """The case now waits for this payer's answer (received without a decision,
        or pended). Called inside the transaction that moved it; a channel that
        can be told to push its answer (a subscription) arranges it after commit."""
        ...


class ChannelBase:
    """Defaults for a payer channel: automated, polled, no update or cancel, nothing on awaiting."""

    name = ""
    automated = True
    can_poll = True
    can_update = False
    can_cancel = False

    def on_awaiting(self, case) -> None:
        return None
