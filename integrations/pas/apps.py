from django.apps import AppConfig


class PasConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "integrations.pas"
    label = "pas"
    verbose_name = "Payer submission (Da Vinci PAS) and tracking"
