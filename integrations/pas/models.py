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
    # The id of the payer's ClaimResponse to this request (from the $submit answer or a later
    # $inquire): what a subscription notification names in its focus.
    payer_response_id = models.CharField(max_length=64, blank=True, db_index=True)
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


class PayerSubscription(models.Model):
    """Our FHIR Subscription at one payer for one practice (Da Vinci PAS topic, R4 Backport).

    PAS subscriptions are per requesting provider organization, not per request:
    the payer pushes a notification when a result for any of the practice's
    pended requests is ready, and we re-check the matching cases with $inquire.
    The row is written before the call, so every attempt leaves a trace.
    """

    class State(models.TextChoices):
        NOT_CONFIGURED = "not_configured", "Not configured"  # something we need is missing: see last_error
        REQUESTED = "requested", "Requested"  # the payer took it, not yet confirmed by a handshake
        ACTIVE = "active", "Active"
        ERROR = "error", "Error"  # the last attempt failed: see last_error; retried hourly
        OFF = "off", "Off"  # switched off by an admin: never created or retried

    payer = models.ForeignKey("payers.Payer", on_delete=models.CASCADE, related_name="+")
    practice = models.ForeignKey("cases.Practice", on_delete=models.CASCADE, related_name="+")
    state = models.CharField(max_length=16, choices=State.choices, default=State.NOT_CONFIGURED)
    subscription_id = models.CharField("payer's Subscription id", max_length=64, blank=True)
    org_identifier = models.CharField(
        max_length=40, blank=True, help_text="The practice identifier the subscription filters on (org-identifier)."
    )
    endpoint = models.CharField(max_length=300, blank=True, help_text="Where the payer sends notifications.")
    last_error = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=0)
    # A worker holds the row while it calls the payer (so two workers never POST twice).
    claimed_at = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    handshake_at = models.DateTimeField(null=True, blank=True)
    last_notified_at = models.DateTimeField(
        null=True, blank=True, help_text="Last handshake, heartbeat or event notification received."
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["payer", "practice"], name="payer_subscription_unique"),
        ]
        ordering = ["payer_id", "practice_id"]

    def __str__(self) -> str:
        return f"Subscription of practice {self.practice_id} at payer {self.payer_id} ({self.state})"


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
    # The requesting organization's identifier (Claim.provider): what PAS subscriptions filter on.
    requester_identifier = models.CharField(max_length=40, blank=True)
    # When subscribers were told the decision (or it was in the $submit answer itself).
    notified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["sandbox_payer", "claim_identifier"], name="sandbox_claim_unique")
        ]
        indexes = [
            models.Index(fields=["decide_at"], condition=Q(notified_at__isnull=True), name="sandbox_claim_to_notify"),
        ]

    def __str__(self) -> str:
        return f"Sandbox claim {self.claim_identifier}"


class SandboxSubscription(models.Model):
    """A Subscription a client created at the sandbox payer (`POST [base]/Subscription`).

    Topic-based (R4 Backport, the PAS topic with an org-identifier filter) or
    the reference implementation's older shape (criteria as a search string).
    """

    class Kind(models.TextChoices):
        TOPIC = "topic", "PAS topic (R4 Backport)"
        CRITERIA = "criteria", "Search criteria (R4 classic)"

    sandbox_payer = models.ForeignKey(SandboxPayer, on_delete=models.CASCADE, related_name="subscriptions")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    # Subscription.status as FHIR has it: active / error / off.
    fhir_status = models.CharField(max_length=10, default="active")
    criteria = models.TextField()
    # Topic-based: the org-identifier filter values; classic: the search parameters.
    filters = models.JSONField(default=dict, blank=True)
    endpoint = models.CharField(max_length=500)
    headers = models.JSONField(default=list, blank=True)
    payload_content = models.CharField(max_length=16, blank=True)  # empty / id-only / full-resource
    payload_type = models.CharField(max_length=40, blank=True)  # channel.payload (a MIME type); none = no body
    events_since_start = models.PositiveIntegerField(default=0)
    resource = models.JSONField(help_text="The Subscription as received.")
    # The sandbox payer's FHIR base as the subscriber called it (for the references in notifications).
    base_url = models.CharField(max_length=300)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"Sandbox subscription {self.pk} ({self.fhir_status})"


class SandboxNotification(models.Model):
    """One notification the sandbox payer owes a subscriber: sent by the push schedule, retried a few times."""

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    subscription = models.ForeignKey(SandboxSubscription, on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(max_length=20)  # handshake / heartbeat / event-notification
    claim = models.ForeignKey(SandboxClaim, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    event_number = models.PositiveIntegerField(default=0)
    state = models.CharField(max_length=8, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    last_error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["next_attempt_at"], condition=Q(state="pending"), name="sandbox_notification_due"),
        ]

    def __str__(self) -> str:
        return f"Sandbox {self.kind} {self.pk} ({self.state})"
