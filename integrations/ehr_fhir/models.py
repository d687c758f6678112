"""The EHR side: one FHIR R4 connection per practice, intake sync runs, the
PHI access log for FHIR reads and the write-back outbox. (The LLM audit
rows, `SummaryRewrite`, live in integrations/llm.)

Nothing here stores clinical content beyond what a case keeps as evidence.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import models
from django.db.models import Q
from django.utils import timezone


class EhrConnection(models.Model):
    class Auth(models.TextChoices):
        NONE = "none", "None (sandbox)"
        SMART_BACKEND = "smart_backend", "SMART Backend Services (JWT client assertion)"

    class Algorithm(models.TextChoices):
        RS384 = "RS384", "RS384"
        ES384 = "ES384", "ES384"

    class Profile(models.TextChoices):
        GENERIC = "generic", "Generic SMART backend"
        ECLINICALWORKS = "eclinicalworks", "eClinicalWorks"

    class IntakeMode(models.TextChoices):
        ALL_PATIENTS = "all_patients", "All-patient search (ServiceRequest?_lastUpdated=…)"
        PER_PATIENT = "per_patient", "Per-patient search over the practice's patient list"
        BULK = "bulk", "Bulk data: Group/{id}/$export"

    class AlertResource(models.TextChoices):
        COMMUNICATION = "Communication", "Communication to the practitioner"
        TASK = "Task", "Task owned by the practitioner"
        NONE = "", "None (alerts stay in this app)"

    class WriteResource(models.TextChoices):
        CLAIM_RESPONSE = "ClaimResponse", "ClaimResponse"
        TASK = "Task", "Task"
        DOCUMENT_REFERENCE = "DocumentReference", "DocumentReference"
        QUESTIONNAIRE_RESPONSE = "QuestionnaireResponse", "QuestionnaireResponse"
        NONE = "", "None (write-back not supported)"

    practice = models.OneToOneField("cases.Practice", on_delete=models.CASCADE, related_name="ehr_connection")
    name = models.CharField(max_length=80, default="EHR")
    base_url = models.URLField("FHIR base URL", max_length=300)
    auth = models.CharField(max_length=16, choices=Auth.choices, default=Auth.NONE)
    client_id = models.CharField(max_length=200, blank=True)
    private_key_pem = models.TextField(
        "private key (PEM)", blank=True, help_text="RSA key for RS384 or P-384 EC key for ES384. Never shown in logs."
    )
    key_id = models.CharField("key id (kid)", max_length=200, blank=True)
    token_url = models.URLField(max_length=300, blank=True)
    scopes = models.CharField(max_length=500, blank=True, default="system/*.rs")
    algorithm = models.CharField(max_length=5, choices=Algorithm.choices, default=Algorithm.RS384)
    write_resource = models.CharField(
        "write a PA outcome as",
        max_length=24,
        choices=WriteResource.choices,
        blank=True,
        default=WriteResource.TASK,
    )
    has_appointment = models.BooleanField(
        "exposes Appointment", default=True, help_text="Off: scheduling dates come from Encounter."
    )
    timeout_seconds = models.PositiveSmallIntegerField(default=20)
    sync_enabled = models.BooleanField(default=True)
    profile = models.CharField(
        max_length=20,
        choices=Profile.choices,
        default=Profile.GENERIC,
        help_text="Saving a changed profile applies its defaults (integrations/ehr_fhir/profiles.py).",
    )
    intake_mode = models.CharField(
        "find orders by", max_length=14, choices=IntakeMode.choices, default=IntakeMode.ALL_PATIENTS
    )
    bulk_group_id = models.CharField(
        "bulk Group id",
        max_length=64,
        blank=True,
        help_text="The EHR Group of the practice's active patients: bulk export and per-patient intake read it.",
    )
    # eClinicalWorks registers bulk access as a second backend app with its own
    # client id and key; empty = the single-patient credentials above are used.
    bulk_client_id = models.CharField("bulk client id", max_length=200, blank=True)
    bulk_private_key_pem = models.TextField("bulk private key (PEM)", blank=True)
    bulk_key_id = models.CharField("bulk key id (kid)", max_length=200, blank=True)
    bulk_scopes = models.CharField(max_length=500, blank=True, default="system/Group.read")
    bulk_algorithm = models.CharField(max_length=5, choices=Algorithm.choices, default=Algorithm.RS384)
    bulk_wait_seconds = models.PositiveSmallIntegerField(
        default=60, help_text="How long one sync polls a running export before leaving it for the next sync."
    )
    questionnaire_url = models.CharField(
        "QuestionnaireResponse.questionnaire",
        max_length=300,
        blank=True,
        default="urn:priorauth:questionnaire:prior-authorization-status",
        help_text="Canonical URL of the Questionnaire the EHR registered for prior authorization status.",
    )
    alert_resource = models.CharField(
        "alert clinicians as",
        max_length=16,
        choices=AlertResource.choices,
        blank=True,
        default=AlertResource.NONE,
    )
    last_check = models.JSONField(default=dict, blank=True, help_text="The last 'check connection' report.")
    last_checked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.name} ({self.practice})"

    def bulk_credentials(self) -> EhrConnection:
        """A copy carrying the bulk backend app's credentials (or these, if none)."""
        if not self.bulk_client_id:
            return self
        copy = EhrConnection(
            pk=self.pk,
            practice_id=self.practice_id,
            base_url=self.base_url,
            auth=self.auth,
            client_id=self.bulk_client_id,
            private_key_pem=self.bulk_private_key_pem,
            key_id=self.bulk_key_id,
            token_url=self.token_url,
            scopes=self.bulk_scopes,
            algorithm=self.bulk_algorithm,
            timeout_seconds=self.timeout_seconds,
        )
        return copy


class SyncRun(models.Model):
    """One order-intake pass for a practice. `cursor` holds, per resource
    type, the `meta.lastUpdated` of the last order fully processed, so a run
    that fails part-way is resumed from there by the next one."""

    class RunState(models.TextChoices):
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    practice = models.ForeignKey("cases.Practice", on_delete=models.CASCADE, related_name="ehr_sync_runs")
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    since = models.JSONField(default=dict, blank=True, help_text="Cursor this run started from.")
    cursor = models.JSONField(default=dict, blank=True)
    run_state = models.CharField(max_length=10, choices=RunState.choices, default=RunState.RUNNING)
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0)
    skipped_reasons = models.JSONField(default=list, blank=True, help_text="[{resource, reason}] (no PHI).")
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"Sync {self.pk} ({self.run_state})"

    def counts(self) -> dict:
        return {"created": self.created, "updated": self.updated, "skipped": self.skipped}


class PhiAccessLog(models.Model):
    """Append-only: one row per FHIR read that returned (or could return) PHI.

    django-auditlog cannot see these reads. Rows are never updated or
    deleted through the ORM (save/delete refuse) nor through admin.
    """

    at = models.DateTimeField(default=timezone.now, db_index=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True)
    system_actor = models.CharField(max_length=60, blank=True, help_text="Background job when no user.")
    practice = models.ForeignKey("cases.Practice", on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey("cases.Patient", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    patient_ehr_id = models.CharField(max_length=64, blank=True)
    case = models.ForeignKey("cases.PriorAuthCase", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    resource_type = models.CharField(max_length=40)
    resource_id = models.CharField(max_length=64, blank=True, help_text="Set for a read by id.")
    result_ids = models.JSONField(default=list, blank=True, help_text="Ids a search returned.")
    query = models.CharField(max_length=500, blank=True, help_text="Search parameters (codes, dates, ids).")
    purpose = models.CharField(max_length=40)
    outcome = models.CharField(max_length=20, default="ok")

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["patient", "-at"])]

    def __str__(self) -> str:
        return f"{self.resource_type} read for {self.purpose} at {self.at:%Y-%m-%d %H:%M}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise PermissionDenied("The PHI access log is append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionDenied("The PHI access log is append-only.")


class WriteBack(models.Model):
    """Outbox row: one decision to write to the chart, written in the same
    transaction as the case's move and sent by a background job."""

    class Purpose(models.TextChoices):
        CHART = "chart", "PA status in the chart"
        ALERT = "alert", "Alert to the clinician"

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        RETRY = "retry", "Retrying"
        DONE = "done", "Written"
        FAILED = "failed", "Failed"
        UNSUPPORTED = "unsupported", "Write-back not supported"

    case = models.ForeignKey("cases.PriorAuthCase", on_delete=models.CASCADE, related_name="ehr_write_backs")
    resource_type = models.CharField(max_length=24, blank=True)
    identifier_system = models.CharField(max_length=120, default="urn:priorauth:pa-decision")
    identifier_value = models.CharField(max_length=120, help_text="Business identifier for If-None-Exist.")
    idempotency_key = models.CharField(max_length=120, unique=True)
    decision = models.CharField(max_length=20, help_text="The case status (or task state) this row reports.")
    purpose = models.CharField(max_length=8, choices=Purpose.choices, default=Purpose.CHART)
    task = models.ForeignKey(
        "cases.Task", on_delete=models.SET_NULL, null=True, blank=True, related_name="+", help_text="For alerts."
    )
    state = models.CharField(max_length=12, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    ehr_resource_id = models.CharField(max_length=64, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    done_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["next_attempt_at"], condition=Q(state__in=["pending", "retry"]), name="writeback_due")
        ]

    def __str__(self) -> str:
        return f"Write-back {self.identifier_value} ({self.state})"


class SandboxResource(models.Model):
    """A FHIR resource served by the built-in sandbox EHR (embedded demo only)."""

    resource_type = models.CharField(max_length=40)
    resource_id = models.CharField(max_length=64)
    body = models.JSONField()
    patient_ref = models.CharField(max_length=80, blank=True, db_index=True)
    last_updated = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["resource_type", "resource_id"], name="sandbox_resource_unique"),
        ]
        ordering = ["last_updated", "id"]

    def __str__(self) -> str:
        return f"{self.resource_type}/{self.resource_id}"
