"""Patient text messages: templates, the outbox, delivery callbacks, inbound replies and consent.

A message's text may only carry the patient's first name, the practice's name
and phone and a generic reference (the case number): a text message is not a
secure channel, and a lock screen shows it to whoever holds the phone.
"""

from __future__ import annotations

import datetime as dt
import re

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone

# The only placeholders a template may use (see `rendering.render_body`).
ALLOWED_PLACEHOLDERS = ("first_name", "practice_name", "practice_phone", "reference")
PLACEHOLDER_RE = re.compile(r"\{([^{}]*)\}")


class TemplateKind(models.TextChoices):
    APPROVED = "approved", "Approved"
    INFO_NEEDED = "info_needed", "More information needed"
    DENIED = "denied", "Denied"
    REMINDER = "reminder", "Reminder"


class Language(models.TextChoices):
    EN = "en", "English"
    ES = "es", "Spanish"


def validate_template_body(body: str) -> None:
    unknown = sorted({name for name in PLACEHOLDER_RE.findall(body) if name not in ALLOWED_PLACEHOLDERS})
    if unknown:
        allowed = ", ".join("{" + name + "}" for name in ALLOWED_PLACEHOLDERS)
        raise ValidationError(f"Unknown placeholder(s) {unknown}; a message may only use {allowed}.")


class MessageTemplate(models.Model):
    """The wording of one kind of message, per practice and language. Edited in admin."""

    practice = models.ForeignKey("cases.Practice", on_delete=models.CASCADE, related_name="sms_templates")
    language = models.CharField(max_length=8, choices=Language.choices, default=Language.EN)
    kind = models.CharField(max_length=16, choices=TemplateKind.choices)
    body = models.TextField(
        validators=[validate_template_body],
        help_text="Placeholders: {first_name} {practice_name} {practice_phone} {reference}. "
        "Never add clinical details: texts are not a secure channel.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["practice", "kind", "language"]
        constraints = [
            models.UniqueConstraint(fields=["practice", "language", "kind"], name="sms_template_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.language})"


class PracticeSmsSettings(models.Model):
    """Per-practice texting window, in the practice's time zone. No row = 08:00–20:00."""

    practice = models.OneToOneField("cases.Practice", on_delete=models.CASCADE, related_name="sms_settings")
    send_window_start = models.TimeField(default=dt.time(8, 0))
    send_window_end = models.TimeField(default=dt.time(20, 0))

    class Meta:
        verbose_name = "practice texting settings"
        verbose_name_plural = "practice texting settings"

    def __str__(self) -> str:
        return f"{self.practice}: {self.send_window_start:%H:%M}–{self.send_window_end:%H:%M}"


class DeliveryState(models.TextChoices):
    QUEUED = "queued", "Queued"  # in our outbox, not yet handed to Twilio
    SENDING = "sending", "Sending"  # claimed by a worker (no SID) or accepted by Twilio (SID)
    SENT = "sent", "Sent"  # the carrier accepted it
    DELIVERED = "delivered", "Delivered"  # the handset confirmed
    UNDELIVERED = "undelivered", "Undelivered"  # the carrier could not deliver
    FAILED = "failed", "Failed"  # never left: invalid number, opted out, gave up retrying
    CANCELLED = "cancelled", "Not sent"  # consent withdrawn before it went out


# Order used to keep delivery states monotonic: a callback never moves a row back.
STATE_RANK = {
    DeliveryState.QUEUED: 0,
    DeliveryState.SENDING: 1,
    DeliveryState.SENT: 2,
    DeliveryState.DELIVERED: 3,
    DeliveryState.UNDELIVERED: 3,
    DeliveryState.FAILED: 3,
    DeliveryState.CANCELLED: 3,
}
FINAL_STATES = frozenset(state for state, rank in STATE_RANK.items() if rank == 3)


class OutboundMessageQuerySet(models.QuerySet):
    def sendable(self, now):
        """Rows that may still be sent once due: no SID yet (a row with one is never sent again), quiet hours over.
        Which of them are due (queued past their backoff, or a claim abandoned by a crash) is the outbox's
        (`services.TEXTS`)."""
        return self.filter(twilio_sid__isnull=True).filter(Q(not_before__isnull=True) | Q(not_before__lte=now))


class OutboundMessage(models.Model):
    """One text to a patient: written in the same transaction as the case change that caused it."""

    case = models.ForeignKey("cases.PriorAuthCase", on_delete=models.CASCADE, related_name="outbound_messages")
    patient = models.ForeignKey("cases.Patient", on_delete=models.CASCADE, related_name="outbound_messages")
    event = models.ForeignKey("cases.CaseEvent", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    template_kind = models.CharField(max_length=16, choices=TemplateKind.choices)
    language = models.CharField(max_length=8, choices=Language.choices, default=Language.EN)
    # The rendered text: first name, practice name/phone, case number only.
    body = models.TextField()
    # case + event + template: a second delivery of the same signal cannot add a second row.
    idempotency_key = models.CharField(max_length=80, unique=True)
    delivery_state = models.CharField(
        max_length=12, choices=DeliveryState.choices, default=DeliveryState.QUEUED, db_index=True
    )
    twilio_sid = models.CharField("Twilio message SID", max_length=64, unique=True, null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    claimed_at = models.DateTimeField(null=True, blank=True, help_text="When a worker last began sending it.")
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    not_before = models.DateTimeField(null=True, blank=True, help_text="Held until the practice's texting window.")
    error_code = models.CharField(max_length=12, blank=True)
    error_reason = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = OutboundMessageQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["delivery_state", "not_before", "next_attempt_at"])]

    def __str__(self) -> str:
        return f"{self.get_template_kind_display()} text for case {self.case_id}"


class DeliveryStatusEvent(models.Model):
    """One status callback from Twilio, kept once per (SID, status) so replays change nothing."""

    sid = models.CharField(max_length=64)
    state = models.CharField(max_length=16, help_text="Twilio's MessageStatus as received.")
    message = models.ForeignKey(
        OutboundMessage, on_delete=models.CASCADE, null=True, blank=True, related_name="status_events"
    )
    error_code = models.CharField(max_length=12, blank=True)
    received_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["received_at", "id"]
        constraints = [models.UniqueConstraint(fields=["sid", "state"], name="sms_status_event_unique")]

    def __str__(self) -> str:
        return f"{self.sid} {self.state}"


class InboundMessage(models.Model):
    """A text a patient sent us. Only keywords are kept: free text could be clinical and is not stored."""

    class Action(models.TextChoices):
        OPT_OUT = "opt_out", "Opt-out"
        OPT_IN = "opt_in", "Opt back in"
        HELP = "help", "Help"
        OTHER = "other", "Other (text not kept)"

    message_sid = models.CharField(max_length=64, unique=True)
    from_number = models.CharField(max_length=20, db_index=True)
    keyword = models.CharField(max_length=16, blank=True)
    action = models.CharField(max_length=8, choices=Action.choices)
    received_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-received_at"]

    def __str__(self) -> str:
        return f"{self.get_action_display()} {self.received_at:%Y-%m-%d %H:%M}"


class ConsentEvent(models.Model):
    """The consent log: every opt-out and opt-in, with where it came from."""

    class Action(models.TextChoices):
        OPT_OUT = "opt_out", "Opted out"
        OPT_IN = "opt_in", "Opted back in"

    class Source(models.TextChoices):
        SMS = "sms", "Patient texted a keyword"
        STAFF_PHONE = "staff_phone", "Patient asked staff by phone"
        CARRIER = "carrier", "Twilio reported the number unsubscribed (21610)"

    patient = models.ForeignKey("cases.Patient", on_delete=models.CASCADE, related_name="sms_consent_events")
    action = models.CharField(max_length=8, choices=Action.choices)
    source = models.CharField(max_length=12, choices=Source.choices)
    keyword = models.CharField(max_length=16, blank=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.get_action_display()} ({self.get_source_display()})"
