"""The practice, its people and patients, orders and prior authorization cases.

Patient data is the minimum necessary for prior authorization: no address,
no SSN, no free-text history. Clinical detail stays in the EHR and is fetched
per requirement when a packet is assembled.
"""

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from cases.querysets import CaseQuerySet, PatientQuerySet, TaskQuerySet
from payers.models import CodeSystem


class Practice(models.Model):
    name = models.CharField(max_length=120)
    time_zone = models.CharField(max_length=64, default="America/New_York")
    phone = models.CharField(max_length=30, blank=True, help_text="Shown to patients in messages.")
    fax = models.CharField(max_length=30, blank=True, help_text="Printed on the submission packet's fax cover.")
    npi = models.CharField("group NPI", max_length=10, blank=True)
    tax_id = models.CharField(max_length=12, blank=True)
    sweep_time = models.TimeField(default="07:30", help_text="Local time of the daily sweep (weekdays).")
    submission_requires_approval = models.BooleanField(
        "submission needs manager approval",
        default=True,
        help_text="When on, a manager approves cases before they are submitted to the payer (which ones: below).",
    )
    approval_scope = models.CharField(
        "which cases need approval",
        max_length=12,
        choices=[
            ("all", "Every case"),
            ("expedited", "Only expedited cases"),
            ("above_cost", "Only cases above the cost threshold"),
        ],
        default="all",
        help_text="Applies while submission needs manager approval; turn that off for none.",
    )
    approval_cost_threshold = models.DecimalField(
        "approval cost threshold (USD)",
        max_digits=10,
        decimal_places=2,
        null=True,
        blank=True,
        help_text="With 'only above the cost threshold': an order whose estimated cost is above this needs approval. "
        "An order without an estimate needs approval (the safe side).",
    )

    def __str__(self) -> str:
        return self.name

    def requires_approval_for(self, case) -> bool:
        """Whether this case must be approved by a manager before it goes to the payer (the practice setting)."""
        return self.requires_approval(urgency=case.urgency, estimated_cost=case.order.estimated_cost)

    def requires_approval(self, *, urgency: str, estimated_cost) -> bool:
        if not self.submission_requires_approval:
            return False
        if self.approval_scope == "expedited":
            return urgency == "expedited"
        if self.approval_scope == "above_cost":
            # No estimate, or no threshold set: ask for approval (the safe side).
            if estimated_cost is None or self.approval_cost_threshold is None:
                return True
            return estimated_cost > self.approval_cost_threshold
        return True


class Location(models.Model):
    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="locations")
    name = models.CharField(max_length=120)
    place_of_service = models.CharField(
        max_length=4, default="11", help_text="Default CMS place-of-service code for orders here."
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Provider(models.Model):
    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="providers")
    first_name = models.CharField(max_length=60)
    last_name = models.CharField(max_length=60)
    credentials = models.CharField(max_length=20, blank=True, help_text="MD, DO, NP …")
    npi = models.CharField("NPI", max_length=10, unique=True)
    specialty = models.CharField(max_length=80)
    location = models.ForeignKey(Location, on_delete=models.SET_NULL, null=True, blank=True)
    ehr_id = models.CharField("EHR Practitioner id", max_length=64, blank=True)
    delegates = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        blank=True,
        related_name="delegated_providers",
        help_text="Other clinicians who may see and answer this provider's cases.",
    )

    class Meta:
        ordering = ["last_name", "first_name"]

    def __str__(self) -> str:
        suffix = f", {self.credentials}" if self.credentials else ""
        return f"{self.first_name} {self.last_name}{suffix}"


class Role(models.TextChoices):
    """Roles are Django groups of these names; see `User.has_role`."""

    COORDINATOR = "coordinator", "Coordinator"
    MANAGER = "manager", "Manager"
    CLINICIAN = "clinician", "Clinician"
    FRONT_DESK = "front_desk", "Front desk"
    ADMIN = "admin", "Admin"


# Who may be handed a case to work (assignment to a person or spread over a role): a clinician answers tasks,
# the front desk schedules, an admin configures; none of them works the case. permissions.ROLE_ACTIONS["assign"].
CASE_WORKER_ROLES = frozenset({Role.COORDINATOR, Role.MANAGER})


class User(AbstractUser):
    """A staff member of one practice. Roles come from groups."""

    practice = models.ForeignKey(Practice, on_delete=models.PROTECT, null=True, blank=True, related_name="staff")
    provider = models.OneToOneField(
        Provider,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="user",
        help_text="For clinicians: the provider whose cases are theirs.",
    )

    def role_names(self) -> set[str]:
        if not hasattr(self, "_role_names"):
            self._role_names = set(self.groups.values_list("name", flat=True))
        return self._role_names

    def has_role(self, *roles: str) -> bool:
        return bool(self.role_names() & set(roles))

    @property
    def primary_role(self) -> str:
        for role in (Role.MANAGER, Role.COORDINATOR, Role.CLINICIAN, Role.FRONT_DESK, Role.ADMIN):
            if role in self.role_names():
                return role
        return ""

    def display(self) -> str:
        return self.get_full_name() or self.username


class Patient(models.Model):
    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="patients")
    first_name = models.CharField(max_length=60)
    last_name = models.CharField(max_length=60)
    birth_date = models.DateField()
    mrn = models.CharField("MRN", max_length=40)
    ehr_id = models.CharField("EHR Patient id", max_length=64, blank=True)
    # Member data as the chart has it (EHR Patient): what a payer matches the member with.
    # Empty when the chart does not say; never guessed.
    gender = models.CharField(
        max_length=8,
        blank=True,
        choices=[("male", "Male"), ("female", "Female"), ("other", "Other"), ("unknown", "Unknown")],
    )
    address = models.JSONField(default=dict, blank=True, help_text="FHIR Address from the EHR Patient (home).")
    identifiers = models.JSONField(
        default=list, blank=True, help_text="The EHR Patient's identifiers (system, value, type code), MRN included."
    )
    mobile_phone = models.CharField(max_length=20, blank=True, help_text="E.164, e.g. +15555550123.")
    preferred_language = models.CharField(max_length=8, default="en", choices=[("en", "English"), ("es", "Spanish")])
    sms_consent = models.BooleanField(default=False)
    sms_consent_at = models.DateTimeField(null=True, blank=True)
    sms_opted_out_at = models.DateTimeField(null=True, blank=True)

    objects = PatientQuerySet.as_manager()

    class Meta:
        ordering = ["last_name", "first_name"]
        constraints = [
            models.UniqueConstraint(fields=["practice", "mrn"], name="patient_unique_mrn"),
            models.UniqueConstraint(
                fields=["practice", "ehr_id"], condition=~Q(ehr_id=""), name="patient_unique_ehr_id"
            ),
        ]
        indexes = [models.Index(fields=["practice", "last_name", "first_name"])]

    def __str__(self) -> str:
        return f"{self.last_name}, {self.first_name}"

    @property
    def can_text(self) -> bool:
        return bool(self.mobile_phone and self.sms_consent and not self.sms_opted_out_at)


class Coverage(models.Model):
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="coverages")
    payer = models.ForeignKey("payers.Payer", on_delete=models.PROTECT, related_name="coverages")
    plan = models.ForeignKey("payers.Plan", on_delete=models.PROTECT, null=True, blank=True)
    member_id = models.CharField(max_length=40)
    group_number = models.CharField(max_length=40, blank=True)
    start = models.DateField()
    end = models.DateField(null=True, blank=True)
    ehr_id = models.CharField("EHR Coverage id", max_length=64, blank=True)
    # Coverage.relationship (subscriber-relationship code: self, spouse, child, other …) and,
    # when the patient is not the subscriber, who is (Coverage.subscriber's display).
    relationship = models.CharField(max_length=16, blank=True)
    subscriber_name = models.CharField(max_length=120, blank=True)

    class Meta:
        ordering = ["-start"]

    def __str__(self) -> str:
        return f"{self.payer} ({self.plan.name if self.plan_id else 'plan unknown'})"

    def is_active_on(self, day) -> bool:
        return self.start <= day and (self.end is None or day <= self.end)


class Order(models.Model):
    class Kind(models.TextChoices):
        SERVICE = "service", "Service / procedure"
        MEDICATION = "medication", "Medication"
        DEVICE = "device", "Device / DME"

    class Priority(models.TextChoices):
        ROUTINE = "routine", "Routine"
        URGENT = "urgent", "Urgent"
        EMERGENCY = "emergency", "Emergency"

    class Source(models.TextChoices):
        EHR = "ehr", "EHR"
        MANUAL = "manual", "Entered by hand"

    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="orders")
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="orders")
    coverage = models.ForeignKey(Coverage, on_delete=models.SET_NULL, null=True, blank=True, related_name="orders")
    kind = models.CharField(max_length=12, choices=Kind.choices, default=Kind.SERVICE)
    code_system = models.CharField(max_length=8, choices=CodeSystem.choices, default=CodeSystem.CPT)
    code = models.CharField(max_length=20)
    description = models.CharField(max_length=200, help_text="Short description staff read in the queue.")
    quantity = models.DecimalField(max_digits=8, decimal_places=2, default=1)
    units = models.CharField(max_length=20, default="UN", help_text="UN units, DA days, MJ minutes …")
    diagnosis_codes = models.JSONField(default=list, blank=True, help_text="ICD-10-CM codes, primary first.")
    ordering_provider = models.ForeignKey(Provider, on_delete=models.PROTECT, related_name="orders")
    location = models.ForeignKey(Location, on_delete=models.SET_NULL, null=True, blank=True)
    site_of_service = models.CharField(max_length=4, blank=True, help_text="CMS place-of-service code.")
    estimated_cost = models.DecimalField(
        max_digits=10,
        decimal_places=2,
        null=True,
        blank=True,
        help_text="Expected cost in USD, when known: the practice may ask for manager approval only above a threshold.",
    )
    priority = models.CharField(max_length=10, choices=Priority.choices, default=Priority.ROUTINE)
    requested_date = models.DateField(null=True, blank=True)
    scheduled_date = models.DateField(null=True, blank=True)

    class ScheduleSource(models.TextChoices):
        NONE = "", "Not scheduled"
        EHR = "ehr", "From the EHR"
        MANUAL = "manual", "Entered by hand"

    scheduled_source = models.CharField(max_length=8, choices=ScheduleSource.choices, blank=True, default="")
    schedule_ref = models.CharField(
        max_length=80, blank=True, help_text="The EHR Appointment/… or Encounter/… the date was read from."
    )
    ehr_id = models.CharField("EHR request id", max_length=64, blank=True)
    source = models.CharField(max_length=8, choices=Source.choices, default=Source.MANUAL)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["practice", "ehr_id"], condition=~Q(ehr_id=""), name="order_unique_ehr_id")
        ]

    def __str__(self) -> str:
        return f"{self.code_system} {self.code} {self.description}"

    def save(self, *args, **kwargs):
        adding = self._state.adding
        super().save(*args, **kwargs)
        fields = kwargs.get("update_fields")
        # A new appointment date can put the case at risk (or take it off): its queue key follows.
        if not adding and (fields is None or "scheduled_date" in fields):
            from cases.priority import case_priority_refresh

            case_priority_refresh(cases=PriorAuthCase.objects.filter(order_id=self.pk))

    @property
    def service_date(self):
        return self.scheduled_date or self.requested_date or timezone.localdate(self.created_at)


class Status(models.TextChoices):
    NEW = "new", "New"  # order arrived, PA not yet decided
    NOT_REQUIRED = "not_required", "No PA required"  # rule or payer says no authorization needed
    RETRO_AUTH = "retro_auth", "Retro-authorization"  # emergency order: kept out of automation, authorize after
    GATHERING = "gathering", "Gathering documentation"  # PA required, packet incomplete
    NEEDS_CLINICIAN = "needs_clinician", "Needs clinician"  # clinical input or attestation outstanding
    READY = "ready", "Ready to submit"  # packet complete; awaiting approval / submission
    SUBMITTED = "submitted", "Submitted"  # with the payer, awaiting a decision
    PENDED = "pended", "Pended: info requested"  # payer asked for more information
    APPROVED = "approved", "Approved"  # certified in total
    PARTIALLY_APPROVED = "partially_approved", "Partially approved"  # certified partial / modified
    DENIED = "denied", "Denied"  # not certified
    APPEALED = "appealed", "Appealed"  # appeal or peer-to-peer in progress
    CLOSED = "closed", "Closed"  # done: service delivered or nothing further to do
    CANCELLED = "cancelled", "Cancelled"  # order withdrawn; reason recorded
    EXPIRED = "expired", "Expired"  # authorization lapsed before the service


class Urgency(models.TextChoices):
    STANDARD = "standard", "Standard"
    EXPEDITED = "expedited", "Expedited"


# The fields the queue's priority key is computed from (cases/priority.py); a save touching one refreshes it.
PRIORITY_INPUTS = frozenset({"status", "urgency", "decision_due_at", "payer", "payer_id", "created_at"})


class PriorAuthCase(models.Model):
    """One prior authorization request for one order.

    `status` is written only by `cases.transitions.transition`.
    """

    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="cases")
    order = models.OneToOneField(Order, on_delete=models.PROTECT, related_name="case")
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="cases")
    payer = models.ForeignKey("payers.Payer", on_delete=models.PROTECT, null=True, blank=True, related_name="cases")
    plan = models.ForeignKey("payers.Plan", on_delete=models.PROTECT, null=True, blank=True, related_name="cases")
    rule = models.ForeignKey("payers.PayerRule", on_delete=models.SET_NULL, null=True, blank=True, related_name="cases")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.NEW, db_index=True)
    urgency = models.CharField(max_length=10, choices=Urgency.choices, default=Urgency.STANDARD)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="assigned_cases"
    )
    channel = models.CharField(max_length=12, blank=True)
    payer_tracking_id = models.CharField(max_length=80, blank=True)

    # The payer's decision.
    authorization_number = models.CharField(max_length=50, blank=True, db_index=True)
    auth_effective_start = models.DateField(null=True, blank=True)
    auth_effective_end = models.DateField(null=True, blank=True)
    units_approved = models.DecimalField(max_digits=8, decimal_places=2, null=True, blank=True)
    # Units of the authorization already used (visits, sessions), recorded by the front desk or a coordinator.
    units_used = models.DecimalField(max_digits=8, decimal_places=2, default=0)
    denial_reason_code = models.CharField(max_length=20, blank=True)
    denial_reason_text = models.TextField(blank=True)
    appeal_deadline = models.DateField(null=True, blank=True)

    # Approval of the submission (practice setting) and the summary attestation.
    submission_approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    submission_approved_at = models.DateTimeField(null=True, blank=True)

    # Medical-necessity summary and the clinician's attestation of its exact text.
    # Editing the text clears the attestation (see cases.summary.case_summary_set).
    summary_text = models.TextField(blank=True)
    summary_source = models.CharField(
        max_length=10,
        blank=True,
        choices=[("template", "Drafted from data"), ("llm", "Rewritten by LLM"), ("staff", "Edited by staff")],
    )
    summary_attested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    summary_attested_at = models.DateTimeField(null=True, blank=True)
    summary_attested_text = models.TextField(blank=True)
    # Fingerprint of the draft as the evidence stood when the text was last set or checked
    # (cases.summary.summary_refresh): a different draft now means the evidence changed.
    summary_basis = models.CharField(max_length=64, blank=True, editable=False)

    # Clocks.
    created_at = models.DateTimeField(default=timezone.now)
    status_changed_at = models.DateTimeField(default=timezone.now)
    submitted_at = models.DateTimeField(null=True, blank=True)
    decision_due_at = models.DateTimeField(
        null=True, blank=True, help_text="Payer's decision deadline: CMS-0057-F or its configured turnaround."
    )
    next_poll_at = models.DateTimeField(null=True, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    # The queue's order, stored (cases/priority.py); empty once closed. Written by the refresh, never by hand.
    priority_key = models.CharField(max_length=41, blank=True, default="", editable=False)

    objects = CaseQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["practice", "status"]),
            models.Index(fields=["next_poll_at"], condition=Q(next_poll_at__isnull=False), name="case_poll_due"),
            models.Index(fields=["decision_due_at"]),
            # The queue: practice, then priority order; closed cases (empty key) are not in it.
            models.Index(
                fields=["practice", "priority_key", "id"], condition=Q(priority_key__gt=""), name="case_queue_priority"
            ),
        ]

    def __str__(self) -> str:
        return f"Case {self.pk}"

    def save(self, *args, **kwargs):
        super().save(*args, **kwargs)
        fields = kwargs.get("update_fields")
        if fields is None or PRIORITY_INPUTS & set(fields):
            self.refresh_priority()

    def get_absolute_url(self) -> str:
        return reverse("cases:detail", args=[self.pk])

    def refresh_priority(self) -> None:
        """Rewrite this case's queue key from its current inputs (and keep the instance in step)."""
        from cases.priority import case_priority_refresh_one

        self.priority_key = case_priority_refresh_one(self)

    @property
    def is_open(self) -> bool:
        from cases.transitions import OPEN_STATUSES

        return self.status in OPEN_STATUSES

    @property
    def queue_at_risk(self) -> bool:
        """Schedule at risk, as of the stored queue key (cases/priority.py)."""
        return self.priority_key[:1] in ("0", "2")

    @property
    def units_remaining(self):
        if self.units_approved is None:
            return None
        return max(self.units_approved - self.units_used, 0)

    @property
    def needs_approval(self) -> bool:
        """A manager's approval is still missing for this case (practice setting, not yet approved)."""
        return self.practice.requires_approval_for(self) and not self.submission_approved_at

    @property
    def summary_is_attested(self) -> bool:
        return bool(self.summary_attested_at) and self.summary_attested_text == self.summary_text


class CaseEvent(models.Model):
    """One line of a case's timeline. Append-only."""

    class Kind(models.TextChoices):
        STATUS = "status", "Status change"
        NOTE = "note", "Note"
        ASSIGNED = "assigned", "Assignment"
        DOCUMENT = "document", "Document"
        TASK = "task", "Task"
        SUBMISSION = "submission", "Submission"
        PAYER = "payer", "Payer update"
        MESSAGE = "message", "Patient message"
        WRITE_BACK = "write_back", "EHR write-back"
        ESCALATION = "escalation", "Escalation"
        APPROVAL = "approval", "Submission approval"
        SYSTEM = "system", "System"

    case = models.ForeignKey(PriorAuthCase, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        help_text="Empty means the system did it.",
    )
    from_status = models.CharField(max_length=20, choices=Status.choices, blank=True)
    to_status = models.CharField(max_length=20, choices=Status.choices, blank=True)
    message = models.CharField(max_length=300, blank=True)
    details = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["case", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} on case {self.case_id}"

    @property
    def actor_display(self) -> str:
        return self.actor.display() if self.actor_id else "system"


class Task(models.Model):
    class Kind(models.TextChoices):
        CLOSE_GAP = "close_gap", "Close a documentation gap"
        APPROVE_SUBMISSION = "approve_submission", "Approve submission"
        ANSWER_INFO_REQUEST = "answer_info_request", "Answer payer's information request"
        WORK_DENIAL = "work_denial", "Work a denial"
        PEER_TO_PEER = "peer_to_peer", "Peer-to-peer review"
        ESCALATION = "escalation", "Escalation"
        RECORD_OUTCOME = "record_outcome", "Record portal / fax outcome"
        SUBMIT = "submit", "Submit to payer"
        RESCHEDULE = "reschedule", "Reschedule appointment"
        CALL_PATIENT = "call_patient", "Call the patient"
        CLINICIAN_INPUT = "clinician_input", "Clinical input"
        RETRO_AUTH = "retro_auth", "Request retro-authorization"
        REVIEW_RULE = "review_rule", "Check whether PA is required"
        RENEW_AUTH = "renew_auth", "Authorization ending: schedule or extend"
        ATTEST_SUMMARY = "attest_summary", "Attest the summary"
        REVIEW_ANSWER = "review_answer", "Review the clinician's answer"

    case = models.ForeignKey(PriorAuthCase, on_delete=models.CASCADE, related_name="tasks")
    kind = models.CharField(max_length=24, choices=Kind.choices)
    title = models.CharField(max_length=200)
    detail = models.TextField(blank=True)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="tasks"
    )
    role = models.CharField(
        max_length=12, choices=Role.choices, blank=True, help_text="Set when any holder of a role may do it."
    )
    due_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    done_at = models.DateTimeField(null=True, blank=True)
    done_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # Prevents the same automatic task (e.g. one escalation per stall) being made twice.
    dedupe_key = models.CharField(max_length=120, blank=True)

    objects = TaskQuerySet.as_manager()

    class Meta:
        ordering = ["done_at", "due_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["case", "dedupe_key"], condition=~Q(dedupe_key=""), name="task_unique_dedupe"
            ),
        ]
        indexes = [models.Index(fields=["assignee", "done_at"]), models.Index(fields=["role", "done_at"])]

    def __str__(self) -> str:
        return self.title

    @property
    def is_open(self) -> bool:
        return self.done_at is None


def document_upload_to(instance: "Document", filename: str) -> str:
    # The stored name never carries the patient's name or the original file
    # name (which often does): case id and a random token only.
    import secrets
    from pathlib import Path

    return f"cases/{instance.case_id}/{secrets.token_hex(12)}{Path(filename).suffix.lower()[:6]}"


class Document(models.Model):
    class Kind(models.TextChoices):
        CLINICAL_NOTE = "clinical_note", "Clinical note"
        LAB = "lab", "Lab result"
        IMAGING = "imaging", "Imaging report"
        LETTER = "letter", "Letter of medical necessity"
        PAYER_LETTER = "payer_letter", "Payer letter"
        APPEAL_LETTER = "appeal_letter", "Appeal letter (as sent)"
        FORM = "form", "Payer form"
        SUBMISSION_PACKET = "submission_packet", "Submission packet (as sent)"
        OTHER = "other", "Other"

    class Source(models.TextChoices):
        UPLOAD = "upload", "Uploaded by staff"
        EHR = "ehr", "From the EHR"
        PAYER = "payer", "From the payer"
        GENERATED = "generated", "Generated here"

    case = models.ForeignKey(PriorAuthCase, on_delete=models.CASCADE, related_name="documents")
    kind = models.CharField(max_length=24, choices=Kind.choices, default=Kind.OTHER)
    title = models.CharField(max_length=200)
    file = models.FileField(upload_to=document_upload_to, blank=True)
    content_type = models.CharField(max_length=100, blank=True)
    size_bytes = models.PositiveIntegerField(default=0)
    ehr_reference = models.CharField(max_length=200, blank=True, help_text="e.g. DocumentReference/123")
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.UPLOAD)
    requirement = models.ForeignKey(
        "payers.DocumentationRequirement", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(file="") | ~Q(ehr_reference=""), name="document_has_file_or_ehr_reference"
            )
        ]

    def __str__(self) -> str:
        return self.title


class RequirementStatus(models.Model):
    """Where one documentation requirement of a case's rule stands: met or a gap."""

    class State(models.TextChoices):
        MET = "met", "Met"
        GAP = "gap", "Missing"
        WAIVED = "waived", "Resolved by staff"

    case = models.ForeignKey(PriorAuthCase, on_delete=models.CASCADE, related_name="requirement_statuses")
    requirement = models.ForeignKey("payers.DocumentationRequirement", on_delete=models.CASCADE, related_name="+")
    state = models.CharField(max_length=8, choices=State.choices, default=State.GAP)
    evidence = models.JSONField(default=list, blank=True, help_text="[{resource, date, value}] that met it.")
    note = models.CharField(max_length=300, blank=True)
    resolved_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["requirement__position", "requirement_id"]
        constraints = [
            models.UniqueConstraint(fields=["case", "requirement"], name="requirement_status_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.requirement} – {self.get_state_display()}"


# The sweep's models live in the sweep's package; Django finds an app's models
# through its models module, so importing them here registers them with the
# `cases` app. One way only: cases.sweep.models never imports this module.
from cases.sweep.models import Bucket, Sweep, SweepHoliday, SweepItem, SweepSettings  # noqa: E402,F401
