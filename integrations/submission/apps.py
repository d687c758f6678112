from django.apps import AppConfig


class SubmissionConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "integrations.submission"
    label = "submission"
    verbose_name = "Payer submissions and tracking (every channel)"

    def ready(self):
        from cases.ui import case_section_register

        # Below the decision and its EHR write-backs: where the request stands with the payer.
        case_section_register("submission/_case_submission.html", column="main", order=20)
