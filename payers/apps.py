from django.apps import AppConfig


class PayersConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "payers"
    verbose_name = "Payers and rules"

    def ready(self):
        from auditlog.registry import auditlog

        from payers import models

        for model in (models.Payer, models.Plan, models.PayerRule, models.DocumentationRequirement):
            auditlog.register(model)
