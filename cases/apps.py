import os

from django.apps import AppConfig


class CasesConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "cases"
    verbose_name = "Cases"

    def ready(self):
        from auditlog.registry import auditlog

        from cases.simulation.workers import CLOCK_ENV, follow_clock

        if os.environ.get(CLOCK_ENV):
            # A worker of a simulation run's own cluster (cases/simulation/workers.py): tasks see the run's clock.
            follow_clock(os.environ[CLOCK_ENV])

        from cases import models

        # Field-level compliance trail beside the human timeline (CaseEvent).
        for model in (
            models.Practice,
            models.Location,
            models.Provider,
            models.Patient,
            models.Coverage,
            models.Order,
            models.PriorAuthCase,
            models.Task,
            models.Document,
            models.RequirementStatus,
        ):
            auditlog.register(model)
        auditlog.register(models.User, exclude_fields=["password", "last_login"])
