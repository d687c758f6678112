"""Faxes out and in: every send is a row before the call, every received fax a row before it is read.

`OutboundFax` is one submission faxed to a payer: the kept PDF (exactly the
bytes the fax service fetched), the dial attempts and the delivery
confirmation. `InboundFax` is one fax the service received for the practice:
stored once per vendor id, matched to a case or left in the inbox for a person.
"""

import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


def _media_token() -> str:
    return secrets.token_urlsafe(24)


class OutboundFax(models.Model):
    class State(models.TextChoices):
        DIALING = "dialing", "Sending"
        RETRY = "retry", "Busy / no answer: will redial"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed"

    submission = models.OneToOneField(
        "submission.Submission", on_delete=models.CASCADE, related_name="fax", help_text="The request this fax carries."
    )
    case = models.ForeignKey("cases.PriorAuthCase", on_delete=models.CASCADE, related_name="faxes_out")
    # The packet as faxed: the fax service fetches these very bytes (media_url below).
    document = models.ForeignKey("cases.Document", on_delete=models.PROTECT, related_name="+")
    pages = models.PositiveSmallIntegerField(default=0, help_text="Pages in the kept PDF.")
    to_number = models.CharField(max_length=20)
    from_number = models.CharField(max_length=20, blank=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.DIALING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # Unguessable, for the fax service's fetch of the PDF (no login there); cleared once delivered.
    media_token = models.CharField(max_length=64, unique=True, default=_media_token)
    # The delivery confirmation, from the service's report.
    delivered_at = models.DateTimeField(null=True, blank=True)
    pages_sent = models.PositiveSmallIntegerField(null=True, blank=True)
    remote_number = models.CharField(max_length=20, blank=True)
    call_seconds = models.PositiveIntegerField(null=True, blank=True)
    failure_reason = models.CharField(max_length=80, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["next_attempt_at"], condition=Q(state="retry"), name="fax_redial_due"),
        ]

    def __str__(self) -> str:
        return f"Fax for case {self.case_id} ({self.state})"


class FaxAttempt(models.Model):
    """One dial of an outbound fax; its vendor status only moves forward."""

    class Progress(models.TextChoices):
        CREATED = "created", "Handing to the fax service"
        QUEUED = "queued", "Queued"
        PROCESSED = "processed", "Media processed"
        SENDING = "sending", "Sending"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed"
        ERROR = "error", "Not accepted by the fax service"

    outbound = models.ForeignKey(OutboundFax, on_delete=models.CASCADE, related_name="dials")
    number = models.PositiveSmallIntegerField()
    vendor_fax_id = models.CharField(max_length=64, null=True, blank=True, unique=True)
    # The service's report on this dial (named so to keep it apart from a case's status).
    progress = models.CharField(max_length=10, choices=Progress.choices, default=Progress.CREATED)
    failure_reason = models.CharField(max_length=80, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["outbound", "number"]
        constraints = [models.UniqueConstraint(fields=["outbound", "number"], name="fax_attempt_unique_number")]

    def __str__(self) -> str:
        return f"Dial {self.number} of {self.outbound_id} ({self.progress})"


class FaxWebhookEvent(models.Model):
    """Every verified event from the fax service, once (a redelivered event is a no-op)."""

    event_id = models.CharField(max_length=64, unique=True)
    event_type = models.CharField(max_length=40)
    vendor_fax_id = models.CharField(max_length=64, blank=True, db_index=True)
    occurred_at = models.DateTimeField(null=True, blank=True)
    received_at = models.DateTimeField(default=timezone.now)
    outcome = models.CharField(max_length=120, blank=True)

    class Meta:
        ordering = ["-received_at"]

    def __str__(self) -> str:
        return f"{self.event_type} {self.event_id}"


def inbound_upload_to(instance: "InboundFax", filename: str) -> str:
    return f"faxes/in/{secrets.token_hex(12)}.pdf"


class InboundFax(models.Model):
    class State(models.TextChoices):
        RECEIVED = "received", "Received: fetching the pages"
        INBOX = "inbox", "In the inbox: needs a person"
        FILED = "filed", "Filed to a case"
        RECORDED = "recorded", "What it says is recorded"
        ERROR = "error", "Could not be fetched"

    class Text(models.TextChoices):
        UNKNOWN = "", "Not read yet"
        READ = "read", "Text read"
        NONE = "none", "No text (a scan): a person reads it"

    class MatchedBy(models.TextChoices):
        NONE = "", "Not matched"
        REFERENCE = "reference", "Our reference on the fax"
        MEMBER = "member", "Member id and patient"
        PATIENT = "patient", "Patient name and birth date"
        STAFF = "staff", "Filed by staff"

    # The practice whose fax line received it; empty for a number no practice has (kept, shown in admin).
    practice = models.ForeignKey(
        "cases.Practice", on_delete=models.CASCADE, null=True, blank=True, related_name="faxes_in"
    )
    vendor_fax_id = models.CharField(max_length=64, unique=True)
    from_number = models.CharField(max_length=32, blank=True)
    to_number = models.CharField(max_length=32, blank=True)
    media_url = models.URLField(max_length=1000, blank=True)
    reported_pages = models.PositiveSmallIntegerField(null=True, blank=True)
    partial = models.BooleanField(default=False, help_text="The service received only part of it.")
    received_at = models.DateTimeField(default=timezone.now)
    state = models.CharField(max_length=10, choices=State.choices, default=State.RECEIVED)
    file = models.FileField(upload_to=inbound_upload_to, blank=True)
    size_bytes = models.PositiveIntegerField(default=0)
    sha256 = models.CharField(max_length=64, blank=True)
    text_state = models.CharField(max_length=4, choices=Text.choices, blank=True, default=Text.UNKNOWN)
    text = models.TextField(blank=True)
    error = models.CharField(max_length=300, blank=True)
    fetch_attempts = models.PositiveSmallIntegerField(default=0)
    case = models.ForeignKey(
        "cases.PriorAuthCase", on_delete=models.SET_NULL, null=True, blank=True, related_name="faxes_in"
    )
    matched_by = models.CharField(max_length=10, choices=MatchedBy.choices, blank=True, default=MatchedBy.NONE)
    # Why it is in the inbox (no reference, two candidate cases, a scan …), for the person.
    match_note = models.CharField(max_length=300, blank=True)
    document = models.ForeignKey("cases.Document", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    filed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    filed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        indexes = [models.Index(fields=["practice", "state"])]

    def __str__(self) -> str:
        return f"Fax received {self.received_at:%Y-%m-%d %H:%M} ({self.get_state_display()})"


class SandboxFax(models.Model):
    """The embedded fax service (FAX_BACKEND=sandbox): a fax it "delivers" after a delay, or one it
    "receives", with the events it will report (signed like the real service's)."""

    vendor_fax_id = models.CharField(max_length=64, unique=True)
    direction = models.CharField(max_length=8, default="outbound")
    to_number = models.CharField(max_length=32)
    from_number = models.CharField(max_length=32, blank=True)
    media_url = models.CharField(max_length=1000, blank=True)
    content = models.BinaryField(blank=True, default=b"")
    # What the sandbox will report: "delivered", or a failure reason such as "user_busy".
    outcome = models.CharField(max_length=40, default="delivered")
    pages = models.PositiveSmallIntegerField(default=1)
    due_at = models.DateTimeField(default=timezone.now)
    reported_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"Sandbox fax {self.vendor_fax_id}"
