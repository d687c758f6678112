from django.contrib import admin

from integrations.ehr_fhir.models import EhrConnection, PhiAccessLog, SyncRun, WriteBack
from priorauth.admin import ReadOnlyAdmin


@admin.register(EhrConnection)
class EhrConnectionAdmin(admin.ModelAdmin):
    list_display = ["name", "practice", "base_url", "auth", "write_resource", "has_appointment", "sync_enabled"]
    fieldsets = [
        (None, {"fields": ["practice", "name", "base_url", "timeout_seconds", "sync_enabled"]}),
        (
            "SMART Backend Services",
            {"fields": ["auth", "client_id", "key_id", "token_url", "scopes", "algorithm", "private_key_pem"]},
        ),
        ("Capabilities", {"fields": ["write_resource", "has_appointment"]}),
    ]


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
