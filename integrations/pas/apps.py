from django.apps import AppConfig
from django.core import checks


class PasConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "integrations.pas"
    label = "pas"
    verbose_name = "Payer submission (Da Vinci PAS) and tracking"

    def ready(self):
        from auditlog.registry import auditlog

        from cases.ui import case_section_register
        from integrations.pas import models

        case_section_register("pas/_case_submission.html", column="main", order=20)

        auditlog.register(models.PayerSubscription)
        checks.register(public_base_url_check)


def public_base_url_check(app_configs=None, **kwargs):
    """Production without PUBLIC_BASE_URL cannot subscribe to payer notifications: say so at deploy."""
    from django.conf import settings

    if settings.PRODUCTION and not settings.PUBLIC_BASE_URL:
        return [
            checks.Warning(
                "PUBLIC_BASE_URL is not set: no PAS Subscription can be created at payers, so decisions arrive by "
                "polling only (each payer subscription shows 'not configured').",
                hint="Set PUBLIC_BASE_URL to this app's public https:// origin.",
                id="pas.W001",
            )
        ]
    return []
