from django.contrib import admin

from integrations.fax.models import FaxAttempt, FaxWebhookEvent, InboundFax, OutboundFax


class FaxAttemptInline(admin.TabularInline):
    model = FaxAttempt
    extra = 0
    readonly_fields = ("number", "vendor_fax_id", "progress", "failure_reason", "error", "created_at", "updated_at")
    can_delete = False


@admin.register(OutboundFax)
class OutboundFaxAdmin(admin.ModelAdmin):
    list_display = ("case", "to_number", "state", "attempts", "delivered_at", "pages", "pages_sent")
    list_filter = ("state",)
    readonly_fields = [f.name for f in OutboundFax._meta.fields]
    exclude = ("media_token",)
    inlines = [FaxAttemptInline]


@admin.register(InboundFax)
class InboundFaxAdmin(admin.ModelAdmin):
    # No text or file here: the inbox shows them to the practice's coordinators, with the access log.
    list_display = ("received_at", "practice", "from_number", "state", "matched_by", "case", "text_state")
    list_filter = ("state", "matched_by", "text_state")
    fields = (
        "practice",
        "vendor_fax_id",
        "from_number",
        "to_number",
        "received_at",
        "state",
        "reported_pages",
        "partial",
        "size_bytes",
        "text_state",
        "case",
        "matched_by",
        "match_note",
        "error",
        "filed_by",
        "filed_at",
    )
    readonly_fields = fields


@admin.register(FaxWebhookEvent)
class FaxWebhookEventAdmin(admin.ModelAdmin):
    list_display = ("received_at", "event_type", "vendor_fax_id", "outcome")
    readonly_fields = ("event_id", "event_type", "vendor_fax_id", "occurred_at", "received_at", "outcome")
