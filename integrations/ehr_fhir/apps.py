from django.apps import AppConfig


class EhrFhirConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "integrations.ehr_fhir"
    label = "ehr_fhir"
    verbose_name = "EHR (FHIR R4)"

    def ready(self):
        from cases.demo import demo_hook_register
        from cases.ui import case_section_register
        from integrations.ehr_fhir import receivers  # noqa: F401  (connects signals)
        from integrations.ehr_fhir.demo import demo_ehr_sandbox

        case_section_register("ehr_fhir/_case_write_backs.html", column="main", order=10)
        demo_hook_register(demo_ehr_sandbox, order=10)
