"""The outbox and payer health in Django admin: submissions and exchanges are read-only traces."""

from django.contrib import admin

from integrations.submission.models import Exchange, PayerLink, Submission
from priorauth.admin import ReadOnlyAdmin


@admin.register(PayerLink)
class PayerLinkAdmin(admin.ModelAdmin):
    """Per-payer notification secret, poll override, and the circuit breaker (visible; reset by closing)."""

    list_display = ["payer", "breaker_state", "consecutive_failures", "open_until", "last_error", "last_success_at"]
    list_filter = ["breaker_state"]
    readonly_fields = ["consecutive_failures", "times_opened", "last_error", "last_failure_at", "last_success_at"]


@admin.register(Submission)
class SubmissionAdmin(ReadOnlyAdmin):
    list_display = [
        "idempotency_key",
        "case",
        "kind",
        "channel",
        "state",
        "attempts",
        "replaces_key",
        "payer_tracking_id",
        "created_at",
    ]
    list_filter = ["state", "kind", "channel"]
    exclude = ["message", "sent_supporting"]  # staff's words and the summary sent: open the case instead


@admin.register(Exchange)
class ExchangeAdmin(ReadOnlyAdmin):
    list_display = ["pk", "case", "payer", "operation", "result", "http_status", "started_at", "finished_at"]
    list_filter = ["operation", "result", "payer"]
    exclude = ["response"]  # the payer's answer names the patient: open the case instead
