from django.apps import AppConfig
from django.core import checks


class PasConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "integrations.pas"
    label = "pas"
    verbose_name = "Payer submission (Da Vinci PAS) and tracking"

    def ready(self):
        from auditlog.registry import auditlog

        from cases.demo import demo_hook_register
        from integrations.pas import models
        from integrations.pas.demo import demo_pas_sandbox

        auditlog.register(models.PayerSubscription)
        demo_hook_register(demo_pas_sandbox, order=20)
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
