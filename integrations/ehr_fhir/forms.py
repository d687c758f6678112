from django import forms

from cases.models import Order, Patient, Provider
from payers.models import CodeSystem, Payer, Plan


class ManualOrderForm(forms.Form):
    """An order that arrived by fax or phone. Either an existing patient or a new one."""

    patient = forms.ModelChoiceField(
        queryset=Patient.objects.none(), required=False, help_text="Leave empty to add a new patient below."
    )
    first_name = forms.CharField(max_length=60, required=False)
    last_name = forms.CharField(max_length=60, required=False)
    birth_date = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
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
    priority = forms.ChoiceField(choices=Order.Priority.choices, initial=Order.Priority.ROUTINE)
    requested_date = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))

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
