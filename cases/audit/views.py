"""The access-log page for managers (compliance): search by patient, user, case, action and period; CSV export."""

import csv

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from cases.audit.models import AccessLog
from cases.audit.services import access_log_record
from cases.forms import PlausibleDateField
from cases.metrics.views import csv_safe
from cases.models import Patient
from cases.permissions import role_allows

PAGE_SIZE = 100
# One export is a working set for an investigation, not a backup of the table.
EXPORT_MAX_ROWS = 50_000
CSV_HEADER = ["time", "user", "action", "what", "patient ids", "case ids", "detail", "source address", "request id"]


class AccessLogFilterForm(forms.Form):
    user = forms.CharField(label="User name", required=False, max_length=150)
    patient = forms.IntegerField(label="Patient id", required=False, min_value=1, widget=forms.HiddenInput)
    case = forms.IntegerField(label="Case id", required=False, min_value=1)
    action = forms.ChoiceField(label="Action", required=False, choices=[("", "Any")] + AccessLog.Action.choices)
    date_from = PlausibleDateField(label="From", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    date_to = PlausibleDateField(label="To", required=False, widget=forms.DateInput(attrs={"type": "date"}))


class PatientLookupForm(forms.Form):
    # Posted, never in a URL: an MRN is PHI. The page then filters by the patient's internal id.
    mrn = forms.CharField(label="Patient MRN", max_length=40)


def _filtered(user, data: dict):
    rows = AccessLog.objects.for_practice(user.practice_id)
    if data.get("user"):
        rows = rows.filter(username__iexact=data["user"])
    if data.get("patient"):
        rows = rows.for_patient(data["patient"])
    if data.get("case"):
        rows = rows.for_case(data["case"])
    if data.get("action"):
        rows = rows.filter(action=data["action"])
    if data.get("date_from"):
        rows = rows.filter(at__date__gte=data["date_from"])
    if data.get("date_to"):
        rows = rows.filter(at__date__lte=data["date_to"])
    return rows


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def access_log(request):
    user = request.user
    if not role_allows(user, "audit_log"):
        raise PermissionDenied
    if request.method == "POST":
        lookup = PatientLookupForm(request.POST)
        patients = Patient.objects.filter(mrn__iexact=lookup.data.get("mrn", "").strip())
        if user.practice_id:
            patients = patients.filter(practice_id=user.practice_id)
        patient = patients.first() if lookup.is_valid() else None
        if patient is None:
            messages.error(request, "No patient of your practice has that MRN.")
            return redirect("audit:log")
        return redirect(f"{reverse('audit:log')}?patient={patient.pk}")
    form = AccessLogFilterForm(request.GET)
    if not form.is_valid():
        return render(request, "audit/log.html", {"form": form, "lookup": PatientLookupForm()}, status=400)
    rows = _filtered(user, form.cleaned_data)
    if request.GET.get("export") == "csv":
        access_log_record(request=request, action=AccessLog.Action.EXPORT, what="access log CSV", **_summary(form))
        return _csv(rows[:EXPORT_MAX_ROWS])
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    export = query.copy()
    export["export"] = "csv"
    return render(
        request,
        "audit/log.html",
        {
            "form": form,
            "lookup": PatientLookupForm(),
            "page": page,
            "querystring": query.urlencode(),
            "export_query": export.urlencode(),
        },
    )


def _summary(form) -> dict:
    """The export's filters for its own log row: ids and names of staff, no patient data."""
    return {k: str(v) for k, v in form.cleaned_data.items() if v not in (None, "")}


class _Echo:
    def write(self, value):
        return value


def _csv(rows):
    writer = csv.writer(_Echo())

    def lines():
        yield writer.writerow(CSV_HEADER)
        for row in rows.iterator(chunk_size=2000):
            yield writer.writerow(
                [
                    csv_safe(timezone.localtime(row.at).isoformat()),
                    csv_safe(row.username),
                    row.action,
                    csv_safe(row.what),
                    " ".join(map(str, row.patient_ids)),
                    " ".join(map(str, row.case_ids)),
                    csv_safe(" ".join(f"{k}={v}" for k, v in sorted(row.detail.items()))),
                    row.ip or "",
                    row.request_id,
                ]
            )

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="access-log-{timezone.localdate().isoformat()}.csv"'
    response["Cache-Control"] = "no-store"
    return response
