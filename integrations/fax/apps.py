from django.apps import AppConfig


class FaxConfig(AppConfig):
    name = "integrations.fax"
    label = "fax"
    verbose_name = "Fax"

    def ready(self):
        from cases.ui import case_section_register

        case_section_register("fax/_case_fax.html", column="main", order=60)
