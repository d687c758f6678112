"""Submissions to payers, every call made to them, per-case tracking and per-payer health.

Every outbound call is written as an `Exchange` row before it is made and its
result recorded on that row, so each attempt leaves a trace and a retry can
tell what already happened.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class Submission(models.Model):
    """One request for a case. Its `idempotency_key` is the Claim identifier the payer sees.

    A case can have several: the first request, updates answering a payer that
    pended it (PAS Claim Update, `replaces_key` = the identifier it updates), and
    a cancellation (a Claim Update with certification type 3, Cancel). All go
    through the same outbox states, claim and backoff.
    """

    class State(models.TextChoices):
        QUEUED = "queued", "Submitting…"
        SENDING = "sending", "Submitting…"
        RETRY = "retry", "Retrying"
        ACCEPTED = "accepted", "Received by the payer"
        FAILED = "failed", "Failed"

    class Kind(models.TextChoices):
        REQUEST = "request", "Request"
        UPDATE = "update", "Additional information"
        CANCEL = "cancel", "Cancellation"

    case = models.ForeignKey("cases.PriorAuthCase", on_delete=models.CASCADE, related_name="submissions")
    channel = models.CharField(max_length=12)
    idempotency_key = models.CharField(max_length=120, unique=True)
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.REQUEST)
    # The Claim identifier an update or a cancellation refers to (Claim.related, relationship "prior").
    replaces_key = models.CharField(max_length=120, blank=True)
    # What staff wrote for the payer with an update (sent as a free-form supportingInfo message).
    message = models.TextField(blank=True)
    # The supportingInfo entries the request carried (sequence, kind, document id or text), so
    # the next update keeps their sequences and flags only what is new (PAS Claim Update rules).
    sent_supporting = models.JSONField(default=list, blank=True)
    # A cancellation's answer from the payer (DecisionStatus, e.g. "cancelled").
    outcome = models.CharField(max_length=20, blank=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.QUEUED)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    payer_tracking_id = models.CharField(max_length=80, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    claimed_at = models.DateTimeField(null=True, blank=True)
    accepted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["next_attempt_at"], condition=Q(state__in=["queued", "retry"]), name="submission_due"),
        ]

    def __str__(self) -> str:
        return f"Submission {self.idempotency_key} ({self.state})"

    @property
    def in_flight(self) -> bool:
        return self.state in (self.State.QUEUED, self.State.SENDING, self.State.RETRY)

    @property
    def is_update(self) -> bool:
        return self.kind == self.Kind.UPDATE

    @property
    def is_cancel(self) -> bool:
        return self.kind == self.Kind.CANCEL


class Exchange(models.Model):
    """One HTTP call to a payer ($submit or $inquire): written before the call, completed after."""

    class Operation(models.TextChoices):
        SUBMIT = "submit", "$submit"
        INQUIRE = "inquire", "$inquire"
        CANCEL = "cancel", "$submit (cancel)"

    class Result(models.TextChoices):
        STARTED = "started", "Started"
        OK = "ok", "Answered"
        ERROR = "error", "Error"

    case = models.ForeignKey("cases.PriorAuthCase", on_delete=models.CASCADE, related_name="payer_exchanges")
    payer = models.ForeignKey("payers.Payer", on_delete=models.CASCADE, related_name="+")
    submission = models.ForeignKey(Submission, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    operation = models.CharField(max_length=8, choices=Operation.choices)
    url = models.CharField(max_length=300)
    result = models.CharField(max_length=8, choices=Result.choices, default=Result.STARTED)
    http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    # The payer's answer as received: the raw payload a PayerDecision points at.
    response = models.JSONField(null=True, blank=True)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [models.Index(fields=["case", "-started_at"])]

    def __str__(self) -> str:
        return f"{self.get_operation_display()} for case {self.case_id} ({self.result})"


class CaseTracking(models.Model):
    """Polling bookkeeping for one submitted case (kept off the case row)."""

    case = models.OneToOneField(
        "cases.PriorAuthCase", on_delete=models.CASCADE, primary_key=True, related_name="tracking"
    )
    poll_failures = models.PositiveSmallIntegerField(default=0, help_text="Consecutive failed polls (backoff).")
    last_polled_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    # The payer's timestamp of the last decision applied: an older answer is ignored.
    last_decision_at = models.DateTimeField(null=True, blank=True)
    last_decision = models.CharField(max_length=20, blank=True)

    def __str__(self) -> str:
        return f"Tracking for case {self.case_id}"


class PayerLink(models.Model):
    """Per-payer channel settings and health: the notification secret and the circuit breaker."""

    class Breaker(models.TextChoices):
        CLOSED = "closed", "Working"
        OPEN = "open", "Down: calls paused"
        HALF_OPEN = "half_open", "Trying again"

    payer = models.OneToOneField("payers.Payer", on_delete=models.CASCADE, related_name="channel_link")
    notify_secret = models.CharField(
        max_length=128,
        blank=True,
        help_text="Shared secret the payer sends with notifications (Authorization: Bearer).",
    )
    poll_minutes = models.PositiveIntegerField(
        null=True, blank=True, help_text="Override the payer's poll interval (sandbox and demo payers)."
    )
    breaker_state = models.CharField(max_length=10, choices=Breaker.choices, default=Breaker.CLOSED)
    consecutive_failures = models.PositiveIntegerField(default=0)
    times_opened = models.PositiveIntegerField(default=0)
    open_until = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    last_failure_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.payer}: {self.get_breaker_state_display()}"

    def is_open(self, now) -> bool:
        return self.breaker_state == self.Breaker.OPEN and self.open_until is not None and self.open_until > now


class SandboxPayer(models.Model):
    """Behaviour of one payer played by the app's own sandbox (SANDBOX_ENABLED only).

    Rates are relative weights; a request's outcome is drawn once, seeded by its
    Claim identifier, so asking again gives the same answer.
    """

    slug = models.SlugField(unique=True)
    approve_weight = models.PositiveSmallIntegerField(default=60)
    partial_weight = models.PositiveSmallIntegerField(default=10)
    deny_weight = models.PositiveSmallIntegerField(default=15)
    pend_weight = models.PositiveSmallIntegerField(default=15)
    decision_delay_seconds = models.PositiveIntegerField(default=90, help_text="Time from $submit to a decision.")
    error_rate = models.FloatField(default=0.0, help_text="Share of requests answered 503 (0–1).")
    timeout_rate = models.FloatField(default=0.0, help_text="Share of requests that hang (0–1).")
    timeout_seconds = models.FloatField(default=35.0, help_text="How long a hanging request hangs.")

    def __str__(self) -> str:
        return f"Sandbox payer {self.slug}"


class SandboxClaim(models.Model):
    sandbox_payer = models.ForeignKey(SandboxPayer, on_delete=models.CASCADE, related_name="claims")
    claim_identifier = models.CharField(max_length=120)
    review_action = models.CharField(max_length=4, help_text="X12 306 code decided on receipt.")
    received_at = models.DateTimeField(default=timezone.now)
    decide_at = models.DateTimeField()
    claim = models.JSONField(help_text="The Claim as received (what the sandbox needs to answer).")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["sandbox_payer", "claim_identifier"], name="sandbox_claim_unique")
        ]

    def __str__(self) -> str:
        return f"Sandbox claim {self.claim_identifier}"
