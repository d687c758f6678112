from django.apps import AppConfig


class AuditConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "cases.audit"
    label = "audit"
    verbose_name = "Access log"

    def ready(self):
        from cases.audit import signals  # noqa: F401 (login, logout and failed login)
