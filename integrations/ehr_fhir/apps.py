from django.apps import AppConfig


class EhrFhirConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "integrations.ehr_fhir"
    label = "ehr_fhir"
    verbose_name = "EHR (FHIR R4)"

    def ready(self):
        from cases.ui import case_section_register
        from integrations.ehr_fhir import receivers  # noqa: F401  (connects signals)

        case_section_register("ehr_fhir/_case_write_backs.html", column="main", order=10)
