"""The audit rows of LLM rewrites: every prompt sent and every answer (or error) received."""

from django.db import models
from django.utils import timezone


class SummaryRewrite(models.Model):
    """Audit of one LLM rewrite of a case's medical-necessity summary."""

    case = models.ForeignKey("cases.PriorAuthCase", on_delete=models.CASCADE, related_name="summary_rewrites")
    model_name = models.CharField(max_length=120)
    endpoint = models.CharField(max_length=300)
    prompt = models.JSONField(default=list, help_text="The messages sent.")
    response_text = models.TextField(blank=True)
    error = models.TextField(blank=True)
    applied = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        # Moved here from integrations.ehr_fhir (state only, llm 0001): the table keeps its name.
        db_table = "ehr_fhir_summaryrewrite"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"LLM rewrite for case {self.case_id}"
