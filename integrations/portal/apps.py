from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "integrations.portal"
    label = "portal"
    verbose_name = "Payer portals"

    def ready(self):
        from cases.ui import case_section_register

        case_section_register("portal/_case_portal.html", column="main", order=61)
