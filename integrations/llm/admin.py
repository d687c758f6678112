from django.contrib import admin

from integrations.llm.models import SummaryRewrite


@admin.register(SummaryRewrite)
class SummaryRewriteAdmin(admin.ModelAdmin):
    """An audit trail: read only, and never deleted from admin."""

    list_display = ["case", "model_name", "applied", "created_at"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
