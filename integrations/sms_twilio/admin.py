from django.contrib import admin

from integrations.sms_twilio import models


@admin.register(models.MessageTemplate)
class MessageTemplateAdmin(admin.ModelAdmin):
    list_display = ("practice", "kind", "language", "updated_at")
    list_filter = ("practice", "kind", "language")


@admin.register(models.PracticeSmsSettings)
class PracticeSmsSettingsAdmin(admin.ModelAdmin):
    list_display = ("practice", "send_window_start", "send_window_end")


@admin.register(models.OutboundMessage)
class OutboundMessageAdmin(admin.ModelAdmin):
    list_display = ("pk", "case", "template_kind", "delivery_state", "attempts", "created_at", "error_code")
    list_filter = ("delivery_state", "template_kind")
    # The body is shown read-only: the outbox is a record, not something to edit.
    readonly_fields = [f.name for f in models.OutboundMessage._meta.fields]
    raw_id_fields = ("case", "patient", "event")


@admin.register(models.ConsentEvent)
class ConsentEventAdmin(admin.ModelAdmin):
    list_display = ("patient", "action", "source", "keyword", "actor", "created_at")
    list_filter = ("action", "source")
    raw_id_fields = ("patient",)


@admin.register(models.InboundMessage)
class InboundMessageAdmin(admin.ModelAdmin):
    list_display = ("message_sid", "action", "keyword", "received_at")
    list_filter = ("action",)
