"""Forms for the queue filters, the case-page actions and manual order entry."""

import datetime as dt

from django import forms
from django.utils import timezone

from cases.models import Document, Location, Order, Patient, Provider, Status, Task, User
from payers.models import Category, CodeSystem, Payer, Plan

BUCKETS = {
    "intake": ("Intake / retro-auth", [Status.NEW, Status.RETRO_AUTH]),
    "gathering": ("Missing documentation", [Status.GATHERING]),
    "clinician": ("Clinician input", [Status.NEEDS_CLINICIAN]),
    "ready": ("Ready to submit", [Status.READY]),
    "with_payer": ("With the payer", [Status.SUBMITTED, Status.APPEALED]),
    "pended": ("Pended: info requested", [Status.PENDED]),
    "denied": ("Denied", [Status.DENIED]),
}
VIEWS = [
    ("mine", "My work + unassigned"),
    ("all", "Everything I can see"),
    ("needs_me", "Needs a clinician"),
    ("scheduling", "Scheduled services"),
]
SORTS = [
    ("priority", "Priority"),
    ("deadline", "Decision deadline"),
    ("age", "Oldest first"),
    ("patient", "Patient name"),
    ("scheduled", "Service date"),
]


class PlausibleDateField(forms.DateField):
    """A date inside a range a person could mean: year 0001 or 9999 is a typo or a probe.

    Dates far outside the range overflow datetime arithmetic further on (a 500); the
    form refuses them with the range in words instead.
    """

    def __init__(self, *args, earliest=dt.date(2000, 1, 1), latest=dt.date(2100, 12, 31), past_only=False, **kw):
        super().__init__(*args, **kw)
        self.earliest, self.latest, self.past_only = earliest, latest, past_only

    def validate(self, value):
        super().validate(value)
        if value in self.empty_values:
            return
        latest = min(self.latest, timezone.localdate()) if self.past_only else self.latest
        if not self.earliest <= value <= latest:
            raise forms.ValidationError(
                f"Enter a date between {self.earliest.isoformat()} and {latest.isoformat()}.", code="implausible"
            )


BIRTH_EARLIEST = dt.date(1900, 1, 1)


class QueueFilterForm(forms.Form):
    view = forms.ChoiceField(choices=VIEWS, required=False)
    q = forms.CharField(label="Search", required=False, max_length=100)
    bucket = forms.ChoiceField(
        label="Status", choices=[("", "Any status")] + [(k, v[0]) for k, v in BUCKETS.items()], required=False
    )
    payer = forms.ModelChoiceField(queryset=Payer.objects.none(), required=False, empty_label="Any payer")
    category = forms.ChoiceField(
        label="Service line", choices=[("", "Any service line")] + list(Category.choices), required=False
    )
    assignee = forms.ChoiceField(label="Assignee", required=False)
    location = forms.ModelChoiceField(queryset=Location.objects.none(), required=False, empty_label="Any location")
    provider = forms.ModelChoiceField(
        label="Ordering provider", queryset=Provider.objects.none(), required=False, empty_label="Any provider"
    )
    overdue = forms.BooleanField(label="Overdue only", required=False)
    sort = forms.ChoiceField(choices=SORTS, required=False)

    def __init__(self, *args, payers, practice_id, staff, **kwargs):
        super().__init__(*args, **kwargs)
        # The payer list is also used for the schedule-risk windows: one query serves both.
        self.fields["payer"].queryset = Payer.objects.filter(pk__in=[p.pk for p in payers])
        self.fields["payer"].choices = [("", "Any payer")] + [(p.pk, p.name) for p in payers]
        self.fields["location"].queryset = Location.objects.filter(practice_id=practice_id)
        self.fields["provider"].queryset = Provider.objects.filter(practice_id=practice_id)
        self.fields["assignee"].choices = [("", "Anyone"), ("me", "Me"), ("unassigned", "Unassigned")] + [
            (str(u.pk), u.display()) for u in staff
        ]


class NoteForm(forms.Form):
    text = forms.CharField(label="Note", widget=forms.Textarea(attrs={"rows": 2}), max_length=4000)


class AssignForm(forms.Form):
    assignee = forms.ModelChoiceField(queryset=User.objects.none(), required=False, empty_label="Unassigned")

    def __init__(self, *args, staff_qs, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["assignee"].queryset = staff_qs


class UploadForm(forms.Form):
    file = forms.FileField(help_text="PDF, PNG or JPEG.")
    title = forms.CharField(max_length=200, required=False)
    kind = forms.ChoiceField(choices=Document.Kind.choices, initial=Document.Kind.CLINICAL_NOTE)
    requirement = forms.IntegerField(required=False, widget=forms.HiddenInput)


class AppealForm(forms.Form):
    letter = forms.CharField(label="Appeal letter", widget=forms.Textarea(attrs={"rows": 16}), max_length=20_000)


class ReasonForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), max_length=1000)


class PaDecisionForm(forms.Form):
    required = forms.TypedChoiceField(
        label="PA required",
        choices=[("yes", "Yes"), ("no", "No")],
        coerce=lambda value: value == "yes",
    )
    reason = forms.CharField(required=False, max_length=1000)


class SendUpdateForm(forms.Form):
    message = forms.CharField(
        label="Information for the payer (optional)",
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=4000,
        required=False,
        help_text="Sent to the payer with the documents added since its request.",
    )


class ClinicianInputForm(forms.Form):
    question = forms.CharField(
        label="Question for the clinician", widget=forms.Textarea(attrs={"rows": 2}), max_length=2000
    )
    due = PlausibleDateField(label="Answer by", required=False, widget=forms.DateInput(attrs={"type": "date"}))


class ResolveGapForm(forms.Form):
    requirement = forms.IntegerField(widget=forms.HiddenInput)
    note = forms.CharField(max_length=300, required=False)


class OutcomeForm(forms.Form):
    outcome = forms.ChoiceField(
        choices=[
            ("submitted", "Submitted, awaiting decision"),
            ("approved", "Approved"),
            ("partially_approved", "Partially approved"),
            ("pended", "Pended: payer asks for more"),
            ("denied", "Denied"),
        ]
    )
    payer_reference = forms.CharField(label="Payer reference / case number", max_length=80, required=False)
    authorization_number = forms.CharField(max_length=50, required=False)
    effective_start = PlausibleDateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    effective_end = PlausibleDateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    units_approved = forms.DecimalField(max_digits=8, decimal_places=2, required=False, min_value=0)
    denial_reason_code = forms.CharField(max_length=20, required=False)
    denial_reason_text = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)
    appeal_deadline = PlausibleDateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    note = forms.CharField(
        label="Note (for pended: what the payer asked for)",
        widget=forms.Textarea(attrs={"rows": 2}),
        required=False,
        max_length=2000,
    )

    # Which outcomes each field belongs to: the page shows only those (static/js/outcome.js) and clean() drops the
    # others, so a denial reason typed before switching to "Approved" is not recorded with the approval.
    FIELD_OUTCOMES = {
        "authorization_number": ("approved", "partially_approved"),
        "effective_start": ("approved", "partially_approved"),
        "effective_end": ("approved", "partially_approved"),
        "units_approved": ("approved", "partially_approved"),
        "denial_reason_code": ("denied", "partially_approved"),
        "denial_reason_text": ("denied", "partially_approved"),
        "appeal_deadline": ("denied", "partially_approved"),
    }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["authorization_number"].label = "Authorization number"
        self.fields["effective_start"].label = "Effective from"
        self.fields["effective_end"].label = "Effective until"
        self.fields["units_approved"].label = "Units approved"
        self.fields["denial_reason_code"].label = "Denial reason code"
        self.fields["denial_reason_text"].label = "Denial reason (the payer's words)"
        self.fields["appeal_deadline"].label = "Appeal by"

    def rows(self):
        """(bound field, the outcomes it belongs to as a space-separated string, '' = every outcome)."""
        return [(self[name], " ".join(self.FIELD_OUTCOMES.get(name, ()))) for name in self.fields]

    def clean(self):
        data = super().clean()
        outcome = data.get("outcome")
        if not outcome:
            return data
        for name, outcomes in self.FIELD_OUTCOMES.items():
            if outcome not in outcomes:
                data[name] = (
                    None if name in ("effective_start", "effective_end", "units_approved", "appeal_deadline") else ""
                )
        # What each outcome needs, next to the field that is missing it (the service checks again).
        if outcome in ("approved", "partially_approved"):
            if not data.get("authorization_number"):
                self.add_error("authorization_number", "An approval needs the payer's authorization number.")
            if not data.get("effective_start"):
                self.add_error("effective_start", "An approval needs the date it starts.")
            start, end = data.get("effective_start"), data.get("effective_end")
            if start and end and end < start:
                self.add_error("effective_end", "The authorization ends before it starts.")
        if outcome == "denied" and not (data.get("denial_reason_text") or data.get("denial_reason_code")):
            self.add_error("denial_reason_text", "A denial needs the payer's reason (code or words).")
        if outcome == "pended" and not (data.get("note") or "").strip():
            self.add_error("note", "Write down what the payer asked for.")
        return data


class SummaryForm(forms.Form):
    text = forms.CharField(label="Summary", widget=forms.Textarea(attrs={"rows": 10}), max_length=10_000)


class TaskCompleteForm(forms.Form):
    note = forms.CharField(label="Answer / note", required=False, max_length=4000)


class BulkAssignForm(forms.Form):
    # "user:<id>", "role:<role>" (spread over that role's people) or "none". The case
    # ids come as a list of checkboxes and are narrowed to visible cases by the view.
    to = forms.CharField(max_length=40)


class ManualOrderForm(forms.Form):
    """An order that arrived by fax or phone. Either an existing patient or a new one."""

    patient = forms.ModelChoiceField(
        queryset=Patient.objects.none(), required=False, help_text="Leave empty to add a new patient below."
    )
    first_name = forms.CharField(max_length=60, required=False)
    last_name = forms.CharField(max_length=60, required=False)
    birth_date = PlausibleDateField(
        earliest=BIRTH_EARLIEST, past_only=True, required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    mrn = forms.CharField(label="MRN", max_length=40, required=False)
    payer = forms.ModelChoiceField(
        queryset=Payer.objects.filter(active=True),
        required=False,
        help_text="Coverage for the date of service (optional for an existing patient).",
    )
    plan = forms.ModelChoiceField(queryset=Plan.objects.select_related("payer"), required=False)
    member_id = forms.CharField(max_length=40, required=False)
    ordering_provider = forms.ModelChoiceField(queryset=Provider.objects.none())
    kind = forms.ChoiceField(choices=Order.Kind.choices)
    code_system = forms.ChoiceField(choices=CodeSystem.choices)
    code = forms.CharField(max_length=20)
    description = forms.CharField(max_length=200)
    diagnosis_codes = forms.CharField(
        max_length=200, required=False, help_text="ICD-10-CM, comma-separated, primary first."
    )
    quantity = forms.DecimalField(max_digits=8, decimal_places=2, initial=1)
    estimated_cost = forms.DecimalField(
        label="Estimated cost (USD)",
        max_digits=10,
        decimal_places=2,
        min_value=0,
        required=False,
        help_text="Optional: the practice may ask for a manager's approval only above a cost.",
    )
    priority = forms.ChoiceField(choices=Order.Priority.choices, initial=Order.Priority.ROUTINE)
    requested_date = PlausibleDateField(widget=forms.DateInput(attrs={"type": "date"}))
    scheduled_date = PlausibleDateField(
        label="Scheduled for",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="The appointment, if already booked (kept as entered by hand).",
    )

    def __init__(self, *args, practice, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["patient"].queryset = Patient.objects.filter(practice=practice)
        self.fields["ordering_provider"].queryset = Provider.objects.filter(practice=practice)

    def clean(self):
        data = super().clean()
        if not data.get("patient"):
            missing = [n for n in ("first_name", "last_name", "birth_date", "mrn") if not data.get(n)]
            for name in missing:
                self.add_error(name, "Required for a new patient.")
            if not data.get("payer"):
                self.add_error("payer", "Required for a new patient.")
        if data.get("payer") and not data.get("member_id"):
            self.add_error("member_id", "Required with a payer.")
        if data.get("plan") and data.get("payer") and data["plan"].payer_id != data["payer"].pk:
            self.add_error("plan", "The plan belongs to another payer.")
        data["diagnosis_codes"] = [
            c.strip().upper() for c in (data.get("diagnosis_codes") or "").split(",") if c.strip()
        ]
        return data


class ScheduleForm(forms.Form):
    scheduled_date = PlausibleDateField(
        label="Service date", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )


class AuthorizationFilterForm(forms.Form):
    """The authorizations list: approved / partially approved cases, for scheduling against."""

    provider = forms.ModelChoiceField(
        label="Ordering provider", queryset=Provider.objects.none(), required=False, empty_label="Any provider"
    )
    location = forms.ModelChoiceField(queryset=Location.objects.none(), required=False, empty_label="Any location")
    valid_on = forms.DateField(
        label="Valid on",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Effective that day.",
    )
    ending_by = forms.DateField(
        label="Ending by",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Ends on or before.",
    )

    def __init__(self, *args, practice_id, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["provider"].queryset = Provider.objects.filter(practice_id=practice_id)
        self.fields["location"].queryset = Location.objects.filter(practice_id=practice_id)


class UnitsUsedForm(forms.Form):
    units_used = forms.DecimalField(label="Units used", max_digits=8, decimal_places=2, min_value=0)


class TaskFilterForm(forms.Form):
    tab = forms.ChoiceField(choices=[("mine", "Mine"), ("unassigned", "Unassigned"), ("team", "Team")], required=False)
    kind = forms.ChoiceField(label="Kind", choices=[("", "Any kind")] + list(Task.Kind.choices), required=False)
    payer = forms.TypedChoiceField(label="Payer", coerce=int, required=False, empty_value=None)

    def __init__(self, *args, payers, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["payer"].choices = [("", "Any payer")] + [(p.pk, p.name) for p in payers]
