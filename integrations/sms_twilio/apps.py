from django.apps import AppConfig
from django.core import checks


class SmsTwilioConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "integrations.sms_twilio"
    label = "sms_twilio"
    verbose_name = "Patient texting"

    def ready(self):
        from auditlog.registry import auditlog

        from cases.ui import case_section_register
        from integrations.sms_twilio import models, receivers  # noqa: F401  (connects the receivers)

        case_section_register("sms_twilio/_case_messages.html", column="side", order=10)

        auditlog.register(models.MessageTemplate)
        auditlog.register(models.PracticeSmsSettings)
        checks.register(check_sms_config)


def check_sms_config(app_configs=None, **kwargs):
    """`manage.py check` fails when the Twilio backend lacks a credential (always in production)."""
    from django.core.exceptions import ImproperlyConfigured

    from integrations.sms_twilio.config import sms_config

    try:
        sms_config()
    except ImproperlyConfigured as exc:
        return [checks.Error(str(exc), id="sms_twilio.E001")]
    return []
