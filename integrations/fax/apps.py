from django.apps import AppConfig


class FaxConfig(AppConfig):
    name = "integrations.fax"
    label = "fax"
    verbose_name = "Fax"

    def ready(self):
        from cases.demo import demo_hook_register
        from cases.ui import case_section_register
        from integrations.fax.demo import demo_fax_sandbox

        case_section_register("fax/_case_fax.html", column="main", order=60)
        demo_hook_register(demo_fax_sandbox, order=30)
