"""Admin pieces every app shares (kept here so no app's admin imports another's)."""

from django.contrib import admin


class ReadOnlyMixin:
    """A record, not a setting: viewable, never added, changed or deleted in the admin.

    For audit trails and outbound-call rows (timeline, submissions, PHI access
    log): each row is the trace of something that happened. Works on a
    ModelAdmin and on an inline (whose has_add_permission also takes `obj`).
    """

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyAdmin(ReadOnlyMixin, admin.ModelAdmin):
    """The one read-only ModelAdmin; every app's record-keeping admins extend it."""
