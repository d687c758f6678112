from django.contrib import admin, messages
from django.db import transaction

from cases.admin import ReadOnlyAdmin
from integrations.pas.models import (
    Exchange,
    PayerLink,
    PayerSubscription,
    SandboxPayer,
    SandboxSubscription,
    Submission,
)


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


@admin.register(SandboxPayer)
class SandboxPayerAdmin(admin.ModelAdmin):
    list_display = [
        "slug",
        "approve_weight",
        "partial_weight",
        "deny_weight",
        "pend_weight",
        "decision_delay_seconds",
        "error_rate",
        "timeout_rate",
    ]


@admin.register(PayerSubscription)
class PayerSubscriptionAdmin(admin.ModelAdmin):
    """Our PAS Subscription per (payer, practice): its state and what went wrong. Changed only by actions."""

    list_display = ["payer", "practice", "state", "subscription_id", "last_error", "last_notified_at", "updated_at"]
    list_filter = ["state", "payer"]
    readonly_fields = [f.name for f in PayerSubscription._meta.fields]
    actions = ["recreate", "switch_off"]

    def has_add_permission(self, request):
        return False

    @admin.action(description="Re-create subscription at the payer", permissions=["change"])
    def recreate(self, request, queryset):
        pairs = list(queryset.values_list("payer_id", "practice_id"))

        def enqueue():
            from django_q.tasks import async_task

            for payer_id, practice_id in pairs:
                # force: POST a new Subscription even if the payer has one (the old one is not deleted)
                async_task("integrations.pas.tasks.ensure_subscription", payer_id, practice_id, True)

        transaction.on_commit(enqueue)
        self.message_user(request, f"Re-creating {len(pairs)} subscription(s) in the background.", messages.INFO)

    @admin.action(description="Switch off (no more attempts)", permissions=["change"])
    def switch_off(self, request, queryset):
        count = 0
        for row in queryset.exclude(state=PayerSubscription.State.OFF):
            row.state = PayerSubscription.State.OFF
            row.save(update_fields=["state", "updated_at"])  # saved one by one: the audit log names who
            count += 1
        self.message_user(request, f"{count} subscription(s) switched off.", messages.INFO)


@admin.register(SandboxSubscription)
class SandboxSubscriptionAdmin(ReadOnlyAdmin):
    list_display = ["pk", "sandbox_payer", "kind", "fhir_status", "endpoint", "payload_content", "events_since_start"]
    list_filter = ["sandbox_payer", "kind", "fhir_status"]
    exclude = ["headers", "resource"]  # the subscriber's secret is in its headers
