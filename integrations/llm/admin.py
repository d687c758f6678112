from django.contrib import admin

from integrations.llm.models import SummaryRewrite
from priorauth.admin import ReadOnlyAdmin


@admin.register(SummaryRewrite)
class SummaryRewriteAdmin(ReadOnlyAdmin):
    """An audit trail: read only, and never deleted from admin."""

    list_display = ["case", "model_name", "applied", "created_at"]
