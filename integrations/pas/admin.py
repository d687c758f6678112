from django import forms
from django.contrib import admin, messages
from django.db import transaction

from integrations.pas.models import PayerConnection, PayerSubscription, SandboxPayer, SandboxSubscription
from priorauth.admin import ReadOnlyAdmin


class PayerConnectionForm(forms.ModelForm):
    """The private keys are write-only: typed in, sealed, never shown again (not even encrypted)."""

    private_key_pem = forms.CharField(
        label="Private key (PEM)",
        required=False,
        strip=True,
        widget=forms.Textarea(attrs={"rows": 4, "autocomplete": "off"}),
        help_text="Paste to set or replace; leave empty to keep the stored key. Stored encrypted, never shown.",
    )
    client_cert_key_pem = forms.CharField(
        label="Client certificate key (PEM, mutual TLS)",
        required=False,
        strip=True,
        widget=forms.Textarea(attrs={"rows": 4, "autocomplete": "off"}),
        help_text="Paste to set or replace; leave empty to keep. Stored encrypted, never shown.",
    )

    class Meta:
        model = PayerConnection
        fields = [
            "payer",
            "auth",
            "token_url",
            "client_id",
            "scopes",
            "key_id",
            "algorithm",
            "client_cert_pem",
            "max_document_bytes",
        ]

    def save(self, commit=True):
        connection = super().save(commit=False)
        if self.cleaned_data.get("private_key_pem"):
            connection.set_private_key(self.cleaned_data["private_key_pem"])
        if self.cleaned_data.get("client_cert_key_pem"):
            connection.set_client_cert_key(self.cleaned_data["client_cert_key_pem"])
        if commit:
            connection.save()
        return connection


@admin.register(PayerConnection)
class PayerConnectionAdmin(admin.ModelAdmin):
    form = PayerConnectionForm
    list_display = ["payer", "auth", "token_url", "client_id", "key_is_set", "max_document_bytes", "updated_at"]

    @admin.display(boolean=True, description="private key set")
    def key_is_set(self, obj):
        return obj.has_private_key


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
        "require_auth",
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
