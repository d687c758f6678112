from django.apps import AppConfig


class X12Config(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "integrations.x12_278"
    label = "x12_278"
    verbose_name = "X12 278 and 270/271 through a clearinghouse"

    def ready(self):
        from auditlog.registry import auditlog
        from django.db.models.signals import post_save

        from cases.models import PriorAuthCase
        from cases.ui import case_section_register
        from integrations.x12_278 import models, signals

        auditlog.register(models.Clearinghouse, exclude_fields=["password_encrypted", "client_key_encrypted"])
        auditlog.register(models.PayerRoute)
        # Beside the submission section: is the member covered, as the payer says.
        case_section_register("x12_278/_case_eligibility.html", column="side", order=15)
        from cases.demo import demo_hook_register
        from integrations.x12_278.demo import demo_x12_sandbox

        demo_hook_register(demo_x12_sandbox, order=30)
        post_save.connect(signals.case_opened, sender=PriorAuthCase, dispatch_uid="x12-eligibility-on-open")
