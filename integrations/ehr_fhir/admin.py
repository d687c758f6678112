import json

from django.contrib import admin, messages
from django.utils.html import format_html

from integrations.ehr_fhir.models import EhrConnection, PhiAccessLog, SyncRun, WriteBack
from integrations.ehr_fhir.profiles import profile_apply
from priorauth.admin import ReadOnlyAdmin


@admin.register(EhrConnection)
class EhrConnectionAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "practice",
        "profile",
        "intake_mode",
        "write_resource",
        "has_appointment",
        "sync_enabled",
        "last_checked_at",
    ]
    actions = ["check_connection"]
    readonly_fields = ["last_check_report", "last_checked_at"]
    fieldsets = [
        (None, {"fields": ["practice", "name", "profile", "base_url", "timeout_seconds", "sync_enabled"]}),
        (
            "SMART Backend Services (single-patient app)",
            {"fields": ["auth", "client_id", "key_id", "token_url", "scopes", "algorithm", "private_key_pem"]},
        ),
        (
            "Bulk data (a separate backend app where the EHR wants one)",
            {
                "fields": [
                    "bulk_group_id",
                    "bulk_client_id",
                    "bulk_key_id",
                    "bulk_scopes",
                    "bulk_algorithm",
                    "bulk_private_key_pem",
                    "bulk_wait_seconds",
                ]
            },
        ),
        (
            "Capabilities",
            {"fields": ["intake_mode", "has_appointment", "write_resource", "questionnaire_url", "alert_resource"]},
        ),
        ("Last check", {"fields": ["last_checked_at", "last_check_report"]}),
    ]

    def save_model(self, request, obj, form, change):
        if "profile" in form.changed_data:
            changed = profile_apply(obj)
            if changed:
                messages.info(request, f"The {obj.get_profile_display()} profile set: {', '.join(changed)}.")
        super().save_model(request, obj, form, change)

    @admin.display(description="report")
    def last_check_report(self, obj):
        if not obj.last_check:
            return "Not checked yet: use the action “Check connection” in the list."
        return format_html("<pre>{}</pre>", json.dumps(obj.last_check, indent=2))

    @admin.action(description="Check connection (token, scopes, CapabilityStatement, intake modes)")
    def check_connection(self, request, queryset):
        from django_q.tasks import async_task

        for pk in queryset.values_list("pk", flat=True):
            async_task("integrations.ehr_fhir.tasks.check_connection", pk)
        self.message_user(request, "Check queued; the report appears on each connection's page when it is done.")


@admin.register(SyncRun)
class SyncRunAdmin(admin.ModelAdmin):
    list_display = ["pk", "practice", "started_at", "run_state", "created", "updated", "skipped", "error"]
    list_filter = ["run_state", "practice"]
    readonly_fields = [f.name for f in SyncRun._meta.fields]


@admin.register(PhiAccessLog)
class PhiAccessLogAdmin(ReadOnlyAdmin):
    list_display = ["at", "user", "system_actor", "patient", "resource_type", "resource_id", "purpose", "outcome"]
    list_filter = ["purpose", "resource_type", "outcome"]
    date_hierarchy = "at"


@admin.register(WriteBack)
class WriteBackAdmin(admin.ModelAdmin):
    list_display = ["identifier_value", "case", "resource_type", "state", "attempts", "next_attempt_at"]
    list_filter = ["state", "resource_type"]
    readonly_fields = ["case", "identifier_system", "identifier_value", "idempotency_key", "ehr_resource_id"]
