from django.contrib import admin, messages
from django.db import transaction

from integrations.pas.models import PayerSubscription, SandboxPayer, SandboxSubscription
from priorauth.admin import ReadOnlyAdmin


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
