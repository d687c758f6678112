"""Payers, their plans and the prior authorization rules library.

Payers are shared by every practice on an installation: the rules library is
the same whoever orders. A practice's patients point at payers through
`cases.Coverage`.
"""

from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import models

from payers.codes import CodeSystem, normalise_code, normalise_prefixes, validate_code_range, validate_conditions
from payers.querysets import PayerRuleQuerySet


class Channel(models.TextChoices):
    PAS = "pas", "Da Vinci PAS (FHIR API)"
    X12_278 = "x12_278", "X12 278 via clearinghouse"
    FAX = "fax", "Fax"
    PORTAL = "portal", "Payer portal"
    EPA = "epa", "ePA network (medications)"
    NONE = "none", "None"


class Benefit(models.TextChoices):
    """Which of the member's benefits a rule is for: it decides the channel a drug can take."""

    MEDICAL = "medical", "Medical benefit"  # services, devices, buy-and-bill drugs billed with HCPCS J-codes
    PHARMACY = "pharmacy", "Pharmacy benefit"  # drugs dispensed by a pharmacy (NDC / RxNorm)


# CMS-0057-F's PAS API covers items and services, not drugs, and an X12 278 is a medical
# request: a pharmacy-benefit drug goes to the ePA network (NCPDP SCRIPT) instead.
MEDICAL_ONLY_CHANNELS = frozenset({Channel.PAS, Channel.X12_278})
PHARMACY_CODE_SYSTEMS = frozenset({"NDC", "RxNorm"})


def benefit_for(code_system: str, rule=None) -> str:
    """The rule's benefit when it says; else pharmacy for NDC / RxNorm drugs, medical for CPT / HCPCS."""
    if rule is not None and rule.benefit:
        return rule.benefit
    return Benefit.PHARMACY if code_system in PHARMACY_CODE_SYSTEMS else Benefit.MEDICAL


def channel_for_benefit(channel: str, benefit: str) -> str:
    """A pharmacy-benefit drug never takes a medical-only channel: it goes to ePA."""
    if benefit == Benefit.PHARMACY and channel in MEDICAL_ONLY_CHANNELS:
        return Channel.EPA
    return channel


class Category(models.TextChoices):
    """Service lines used for rules, queue filters and metrics."""

    ADVANCED_IMAGING = "advanced_imaging", "Advanced imaging"
    INFUSION = "infusion", "Infusion drugs"
    SPECIALTY_PHARMACY = "specialty_pharmacy", "Specialty pharmacy"
    DME = "dme", "Durable medical equipment"
    SURGERY = "surgery", "Elective surgery"
    SLEEP = "sleep", "Sleep studies"
    CARDIOLOGY = "cardiology", "Cardiology procedures"
    GI = "gi", "GI procedures"
    OTHER = "other", "Other"


class Payer(models.Model):
    name = models.CharField(max_length=120, unique=True)
    payer_id = models.CharField(
        "payer identifier", max_length=40, blank=True, help_text="Clearinghouse / EDI payer id."
    )
    naic_code = models.CharField("NAIC code", max_length=10, blank=True)
    phone = models.CharField(max_length=30, blank=True)
    fax = models.CharField(
        max_length=30, blank=True, help_text="Prior authorization fax line: printed on the submission packet's cover."
    )
    cms_impacted = models.BooleanField(
        "impacted by CMS-0057-F",
        default=False,
        help_text="Medicare Advantage, Medicaid/CHIP managed care, federal-exchange QHPs: "
        "72 h expedited / 7 calendar days standard decision deadlines.",
    )
    default_channel = models.CharField(max_length=12, choices=Channel.choices, default=Channel.PORTAL)
    fhir_base_url = models.URLField("PAS FHIR base URL", blank=True)
    portal_url = models.URLField(
        "provider portal URL", blank=True, help_text="Where staff enter a request for a portal payer."
    )
    portal_instructions = models.TextField(
        blank=True,
        help_text="How this payer's portal takes a request (menu path, which form, what to upload), "
        "shown beside the prefilled fields.",
    )
    poll_interval_hours = models.PositiveSmallIntegerField(
        default=8, help_text="How often to check status of a submitted case (4–24 h typical)."
    )
    stall_threshold_hours = models.PositiveSmallIntegerField(
        default=72, help_text="A case with no movement for this long is escalated."
    )
    follow_up_hours = models.PositiveSmallIntegerField(
        default=48,
        help_text="Channels worked by hand (fax, portal, phone): with no answer recorded for this long, "
        "a coordinator gets a task to check with the payer, once per interval.",
    )
    standard_turnaround_hours = models.PositiveSmallIntegerField(
        default=14 * 24,
        help_text="Payer's configured decision time for standard requests (non-impacted payers).",
    )
    expedited_turnaround_hours = models.PositiveSmallIntegerField(default=72)
    appeal_window_days = models.PositiveSmallIntegerField(default=60)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def decision_window(self, *, expedited: bool) -> timedelta:
        """How long the payer has to decide, counted from submission.

        CMS-0057-F fixes 72 hours (expedited) and 7 calendar days (standard)
        for impacted payers from 2026; others use their configured turnaround.
        """
        if self.cms_impacted:
            return timedelta(hours=72) if expedited else timedelta(days=7)
        hours = self.expedited_turnaround_hours if expedited else self.standard_turnaround_hours
        return timedelta(hours=hours)


class LineOfBusiness(models.TextChoices):
    COMMERCIAL = "commercial", "Commercial"
    MEDICARE_ADVANTAGE = "medicare_advantage", "Medicare Advantage"
    MEDICAID = "medicaid", "Medicaid / CHIP managed care"
    EXCHANGE = "exchange", "Federal exchange QHP"
    MEDICARE = "medicare", "Original Medicare"
    OTHER = "other", "Other"


class Plan(models.Model):
    payer = models.ForeignKey(Payer, on_delete=models.CASCADE, related_name="plans")
    name = models.CharField(max_length=120)
    line_of_business = models.CharField(
        max_length=24, choices=LineOfBusiness.choices, default=LineOfBusiness.COMMERCIAL
    )

    class Meta:
        ordering = ["payer__name", "name"]
        constraints = [models.UniqueConstraint(fields=["payer", "name"], name="plan_unique_name_per_payer")]

    def __str__(self) -> str:
        return f"{self.payer.name} – {self.name}"


class RequiresPA(models.TextChoices):
    YES = "yes", "Required"
    NO = "no", "Not required"
    UNKNOWN = "unknown", "Unknown (a human checks)"


class PayerRule(models.Model):
    """One line of the payer's prior authorization list.

    A rule matches an order by payer, plan (blank = every plan of the payer),
    code system and either one code or an inclusive range, optionally a site
    of service and diagnosis prefixes, within its effective dates.
    """

    payer = models.ForeignKey(Payer, on_delete=models.CASCADE, related_name="rules")
    plan = models.ForeignKey(
        Plan,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="rules",
        help_text="Blank applies to every plan of the payer.",
    )
    code_system = models.CharField(max_length=8, choices=CodeSystem.choices, default=CodeSystem.CPT)
    code = models.CharField(max_length=20, help_text="The code, or the first code of a range.")
    code_end = models.CharField(max_length=20, blank=True, help_text="Last code of an inclusive range.")
    requires_pa = models.CharField(max_length=8, choices=RequiresPA.choices, default=RequiresPA.YES)
    category = models.CharField(max_length=24, choices=Category.choices, default=Category.OTHER)
    channel = models.CharField(
        max_length=12, choices=Channel.choices, blank=True, help_text="Blank uses the payer's default channel."
    )
    benefit = models.CharField(
        max_length=10,
        choices=Benefit.choices,
        blank=True,
        help_text="Blank: pharmacy for NDC / RxNorm codes, medical for CPT / HCPCS (J-code buy-and-bill drugs). "
        "A pharmacy-benefit rule goes to the ePA channel, never PAS or X12 278.",
    )
    site_of_service = models.CharField(
        max_length=4, blank=True, help_text="CMS place-of-service code (e.g. 11 office, 22 outpatient); blank = any."
    )
    diagnosis_prefixes = models.CharField(
        max_length=200, blank=True, help_text="Comma-separated ICD-10 prefixes (e.g. M54, M51.1); blank = any."
    )
    criteria_reference = models.CharField(max_length=200, blank=True, help_text="Payer policy / criteria id.")
    effective_from = models.DateField()
    effective_to = models.DateField(null=True, blank=True)
    notes = models.TextField(blank=True)

    objects = PayerRuleQuerySet.as_manager()

    class Meta:
        ordering = ["payer__name", "code_system", "code"]
        indexes = [models.Index(fields=["payer", "code_system", "code"])]

    def __str__(self) -> str:
        codes = f"{self.code}–{self.code_end}" if self.code_end else self.code
        scope = self.plan.name if self.plan_id else "all plans"
        return f"{self.payer.name} / {scope}: {self.code_system} {codes}"

    @property
    def effective_benefit(self) -> str:
        return benefit_for(self.code_system, self)

    @property
    def effective_channel(self) -> str:
        # A payer whose default is PAS still has its pharmacy drugs worked through ePA.
        return channel_for_benefit(self.channel or self.payer.default_channel, self.effective_benefit)

    @property
    def diagnosis_prefix_list(self) -> list[str]:
        return [p.strip().upper() for p in self.diagnosis_prefixes.split(",") if p.strip()]

    def clean(self):
        if self.plan_id and self.payer_id and self.plan.payer_id != self.payer_id:
            raise ValidationError({"plan": "The plan belongs to another payer."})
        if self.effective_benefit == Benefit.PHARMACY and self.channel in MEDICAL_ONLY_CHANNELS:
            raise ValidationError(
                {"channel": "A pharmacy-benefit drug cannot go by PAS or X12 278 (CMS-0057-F excludes drugs): use ePA."}
            )
        # effective_from is None when its form field failed validation; that error is already reported.
        if self.effective_to and self.effective_from and self.effective_to < self.effective_from:
            raise ValidationError({"effective_to": "Ends before it starts."})
        errors = validate_code_range(self.code_system, self.code, self.code_end)
        errors.update(validate_conditions(self.site_of_service, self.diagnosis_prefixes))
        if errors:
            raise ValidationError(errors)
        self.site_of_service = self.site_of_service.strip()
        self.diagnosis_prefixes = normalise_prefixes(self.diagnosis_prefixes)
        # Stored normalised so the CSV natural key and the match see one spelling.
        self.code = normalise_code(self.code_system, self.code)
        self.code_end = normalise_code(self.code_system, self.code_end)


class RequirementKind(models.TextChoices):
    LAB = "lab", "Lab result (LOINC) within look-back"
    MEDICATION_TRIAL = "medication_trial", "Medication trial (RxNorm / class) within look-back"
    THERAPY = "therapy", "Therapy / procedure of a minimum duration"
    NOTE = "note", "Clinical note within N days"
    IMAGING = "imaging", "Imaging report"
    DIAGNOSIS = "diagnosis", "Diagnosis on the problem list"
    FREE_TEXT = "free_text", "Free text (a person checks)"


class WhoCloses(models.TextChoices):
    COORDINATOR = "coordinator", "Coordinator (upload a document)"
    CLINICIAN = "clinician", "Clinician (clinical input)"


class DocumentationRequirement(models.Model):
    """A structured piece of evidence a rule needs before submission.

    Structured so the packet assembler can fetch only what the requirement
    names (minimum necessary) and decide met / gap on its own.
    """

    rule = models.ForeignKey(PayerRule, on_delete=models.CASCADE, related_name="requirements")
    kind = models.CharField(max_length=20, choices=RequirementKind.choices)
    description = models.CharField(max_length=200, help_text="What staff read, e.g. 'HbA1c within 90 days'.")
    loinc_code = models.CharField("LOINC", max_length=20, blank=True)
    rxnorm_code = models.CharField("RxNorm", max_length=20, blank=True)
    drug_class = models.CharField(max_length=80, blank=True, help_text="e.g. 'metformin', 'NSAID'.")
    procedure_code = models.CharField(max_length=20, blank=True, help_text="CPT/SNOMED of the therapy.")
    diagnosis_prefix = models.CharField(max_length=10, blank=True)
    lookback_days = models.PositiveIntegerField(null=True, blank=True)
    min_duration_days = models.PositiveIntegerField(null=True, blank=True)
    who_closes = models.CharField(max_length=12, choices=WhoCloses.choices, default=WhoCloses.COORDINATOR)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["rule", "position", "id"]

    def __str__(self) -> str:
        return self.description

    def as_dict(self) -> dict:
        return {
            "id": self.pk,
            "kind": self.kind,
            "description": self.description,
            "loinc_code": self.loinc_code or None,
            "rxnorm_code": self.rxnorm_code or None,
            "drug_class": self.drug_class or None,
            "procedure_code": self.procedure_code or None,
            "diagnosis_prefix": self.diagnosis_prefix or None,
            "lookback_days": self.lookback_days,
            "min_duration_days": self.min_duration_days,
            "who_closes": self.who_closes,
        }
