"""The access log: one row per read of patient data, and sign-in events. Append-only."""

from django.conf import settings
from django.db import connection, models
from django.utils import timezone


class AccessLogImmutable(Exception):
    """Access-log rows are written once and never changed or deleted by the app."""


class AccessLogQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AccessLogImmutable("access-log rows cannot be changed")

    def delete(self):
        raise AccessLogImmutable("access-log rows cannot be deleted")

    def for_practice(self, practice_id):
        """Rows of one practice's users; a user of no practice (a superuser) sees every row."""
        return self if practice_id is None else self.filter(practice_id=practice_id)

    def for_patient(self, patient_id: int):
        if connection.vendor == "postgresql":
            return self.filter(patient_ids__contains=[patient_id])
        # SQLite has no JSON containment: the stored list is text like "[5, 17]".
        return self.filter(patient_ids__regex=rf"[\[ ]{patient_id}[,\]]")

    def for_case(self, case_id: int):
        if connection.vendor == "postgresql":
            return self.filter(case_ids__contains=[case_id])
        return self.filter(case_ids__regex=rf"[\[ ]{case_id}[,\]]")


class AccessLog(models.Model):
    """Who saw what of which patients, when, from where.

    Ids, never names: the log is itself read by compliance staff and exported.
    The user is kept as an id and a copied username without a foreign-key
    constraint, so removing a user neither deletes nor rewrites their rows.
    """

    class Action(models.TextChoices):
        VIEW = "view", "Viewed"
        SEARCH = "search", "Searched"
        DOWNLOAD = "download", "Downloaded"
        EXPORT = "export", "Exported"
        LOGIN = "login", "Signed in"
        LOGOUT = "logout", "Signed out"
        LOGIN_FAILED = "login_failed", "Sign-in failed"
        LOCKOUT = "lockout", "Locked out"
        UNLOCK = "unlock", "Unlocked"
        ADMIN = "admin", "Admin action"

    at = models.DateTimeField(default=timezone.now, db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    username = models.CharField(max_length=150, blank=True, db_index=True, help_text="As typed, for a failed sign-in.")
    practice = models.ForeignKey(
        "cases.Practice", null=True, blank=True, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    action = models.CharField(max_length=16, choices=Action.choices)
    what = models.CharField(max_length=120, help_text="The page or file, e.g. 'case page', 'queue', 'packet'.")
    patient_ids = models.JSONField(default=list, blank=True)
    case_ids = models.JSONField(default=list, blank=True)
    detail = models.JSONField(default=dict, blank=True, help_text="Ids and counts only (document id, page, rows).")
    ip = models.GenericIPAddressField("source address", null=True, blank=True)
    user_agent = models.CharField(max_length=200, blank=True)
    request_id = models.CharField(max_length=64, blank=True)

    objects = AccessLogQuerySet.as_manager()

    class Meta:
        ordering = ["-at", "-pk"]
        indexes = [models.Index(fields=["practice", "-at"], name="audit_practice_at")]

    def __str__(self):
        return f"{self.at:%Y-%m-%d %H:%M} {self.username} {self.action} {self.what}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AccessLogImmutable("access-log rows cannot be changed")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AccessLogImmutable("access-log rows cannot be deleted")
