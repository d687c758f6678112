"""Admin for the sweep: holidays and digest settings are edited here; sweeps are read only."""

from django.contrib import admin

from cases.sweep.models import Sweep, SweepHoliday, SweepSettings
from priorauth.admin import ReadOnlyAdmin


@admin.register(SweepHoliday)
class SweepHolidayAdmin(admin.ModelAdmin):
    list_display = ("date", "name", "practice")
    list_filter = ("practice",)
    date_hierarchy = "date"


@admin.register(SweepSettings)
class SweepSettingsAdmin(admin.ModelAdmin):
    list_display = ("practice", "digest_roles")


@admin.register(Sweep)
class SweepAdmin(ReadOnlyAdmin):
    list_display = ("run_date", "practice", "trigger", "state", "duration_ms", "as_of")
    list_filter = ("practice", "trigger", "state")
