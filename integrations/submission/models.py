"""The submission outbox, every call made to a payer, per-case tracking and per-payer health.

Channel-neutral: every channel (Da Vinci PAS, X12 278, fax, portal, worked by
hand) goes through these rows. Every outbound call is written as an `Exchange`
row before it is made and its result recorded on that row, so each attempt
leaves a trace and a retry can tell what already happened.

The tables keep the names they had when this lived in integrations.pas
(`db_table`): moving the code moved no data.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class Submission(models.Model):
    """One request for a case. Its `idempotency_key` is the identifier the payer sees
    (the PAS Claim identifier, the 278's trace number, the fax cover's reference).

    A case can have several: the first request, updates answering a payer that
    pended it (`replaces_key` = the identifier it updates), and a cancellation.
    Automated channels take them through the outbox states, claim and backoff;
    a channel worked by hand leaves them `with_staff` until a person records
    that the payer has it.
    """

    class State(models.TextChoices):
        QUEUED = "queued", "Submitting…"
        SENDING = "sending", "Submitting…"
        RETRY = "retry", "Retrying"
        ACCEPTED = "accepted", "Received by the payer"
        FAILED = "failed", "Failed"
        # A channel worked by hand: a coordinator's task sends it; recording the payer's answer accepts it.
        WITH_STAFF = "with_staff", "With staff to send"
        # Handed to a carrier that reports delivery later (fax): accepted on its delivery report.
        HANDED_OVER = "handed_over", "Being delivered"

    class Kind(models.TextChoices):
        REQUEST = "request", "Request"
        UPDATE = "update", "Additional information"
        CANCEL = "cancel", "Cancellation"

    case = models.ForeignKey("cases.PriorAuthCase", on_delete=models.CASCADE, related_name="submissions")
    channel = models.CharField(max_length=12)
    idempotency_key = models.CharField(max_length=120, unique=True)
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.REQUEST)
    # The identifier an update or a cancellation refers to (PAS: Claim.related, relationship "prior").
    replaces_key = models.CharField(max_length=120, blank=True)
    # What staff wrote for the payer with an update (sent as a free-form supportingInfo message).
    message = models.TextField(blank=True)
    # What the request carried (PAS: supportingInfo sequence, kind, document id or text), so the
    # next update can number and flag only what is new. Written by the channel.
    sent_supporting = models.JSONField(default=list, blank=True)
    # A cancellation's answer from the payer (DecisionStatus, e.g. "cancelled").
    outcome = models.CharField(max_length=20, blank=True)
    state = models.CharField(max_length=12, choices=State.choices, default=State.QUEUED)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    payer_tracking_id = models.CharField(max_length=80, blank=True)
    # The payer's own id for its answer to this request (PAS: the ClaimResponse id), which a
    # payer notification names instead of our identifier.
    payer_response_id = models.CharField(max_length=64, blank=True, db_index=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    claimed_at = models.DateTimeField(null=True, blank=True)
    accepted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "pas_submission"
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["next_attempt_at"], condition=Q(state__in=["queued", "retry"]), name="submission_due"),
        ]

    def __str__(self) -> str:
        return f"Submission {self.idempotency_key} ({self.state})"

    @property
    def in_flight(self) -> bool:
        return self.state in IN_FLIGHT

    @property
    def is_update(self) -> bool:
        return self.kind == self.Kind.UPDATE

    @property
    def is_cancel(self) -> bool:
        return self.kind == self.Kind.CANCEL


# Requests still on their way to the payer (or to the staff member who sends them).
IN_FLIGHT = (
    Submission.State.QUEUED,
    Submission.State.SENDING,
    Submission.State.RETRY,
    Submission.State.WITH_STAFF,
    Submission.State.HANDED_OVER,
)


class Exchange(models.Model):
    """One call to a payer (submit, status inquiry, cancel): written before the call, completed after."""

    class Operation(models.TextChoices):
        SUBMIT = "submit", "Submit"
        INQUIRE = "inquire", "Status inquiry"
        CANCEL = "cancel", "Cancel"

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
        db_table = "pas_exchange"
        ordering = ["-started_at", "-id"]
        indexes = [models.Index(fields=["case", "-started_at"], name="pas_exchang_case_id_3cd1ec_idx")]

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

    class Meta:
        db_table = "pas_casetracking"

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
    # When the half-open probe began: a probe with no outcome after breaker.HALF_OPEN_LIMIT reopens the breaker.
    probe_started_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    last_failure_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "pas_payerlink"

    def __str__(self) -> str:
        return f"{self.payer}: {self.get_breaker_state_display()}"

    def is_open(self, now) -> bool:
        return self.breaker_state == self.Breaker.OPEN and self.open_until is not None and self.open_until > now


class Heartbeat(models.Model):
    """When a worker of the background cluster last ran a task (`liveness.heartbeat`).

    Written by a task, not by the scheduler: a frozen worker pool still schedules and pulls
    tasks but runs none, so only a task that ran proves the cluster works. One row per name
    ("cluster" from the schedule and the supervisor; tests use their own names).
    """

    name = models.CharField(max_length=40, primary_key=True)
    beat_at = models.DateTimeField()

    class Meta:
        db_table = "submission_heartbeat"

    def __str__(self) -> str:
        return f"{self.name}: {self.beat_at:%Y-%m-%d %H:%M:%S}"
