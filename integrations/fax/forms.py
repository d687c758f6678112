from django import forms

from cases.forms import OutcomeForm


class CaseSearchForm(forms.Form):
    q = forms.CharField(
        label="Find the case",
        max_length=80,
        required=False,
        help_text="Patient name, birth date (MM/DD/YYYY), MRN, member id, authorization # or our reference",
    )


class FileForm(forms.Form):
    case = forms.IntegerField(min_value=1)


class FaxOutcomeForm(OutcomeForm):
    """What the fax says: a decision, or the payer's request for more (pended, its words in the note)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["outcome"].choices = [c for c in self.fields["outcome"].choices if c[0] != "submitted"]
