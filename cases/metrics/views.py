"""The manager's metrics dashboard and its CSV export."""

import csv
import zoneinfo
from datetime import timedelta

from django import forms
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from cases.audit.models import AccessLog
from cases.audit.services import access_log_record
from cases.forms import PlausibleDateField
from cases.metrics.charts import hbar
from cases.metrics.figures import Filters, dashboard_metrics
from cases.models import Location, Provider
from cases.permissions import require_role
from cases.words import duration_words
from payers.models import Category, Payer

# A spreadsheet runs a cell starting with one of these as a formula (CSV injection).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value) -> str:
    """The cell as text, with a leading ' when a spreadsheet would run it as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


class DashboardFilterForm(forms.Form):
    date_from = PlausibleDateField(label="From", widget=forms.DateInput(attrs={"type": "date"}))
    date_to = PlausibleDateField(label="To", widget=forms.DateInput(attrs={"type": "date"}))
    payer = forms.ModelChoiceField(Payer.objects.all(), required=False, empty_label="All payers")
    category = forms.ChoiceField(choices=[("", "All service lines"), *Category.choices], required=False)
    provider = forms.ModelChoiceField(Provider.objects.none(), required=False, empty_label="All providers")
    location = forms.ModelChoiceField(Location.objects.none(), required=False, empty_label="All locations")

    def __init__(self, data, *, practice, today):
        data = data.copy()
        data.setdefault("date_to", today.isoformat())
        data.setdefault("date_from", (today - timedelta(days=29)).isoformat())
        super().__init__(data)
        self.fields["provider"].queryset = Provider.objects.filter(practice=practice)
        self.fields["location"].queryset = Location.objects.filter(practice=practice)

    def clean(self):
        data = super().clean()
        if data.get("date_from") and data.get("date_to") and data["date_from"] > data["date_to"]:
            raise forms.ValidationError("The period ends before it starts.")
        return data

    def filters(self) -> Filters:
        d = self.cleaned_data
        return Filters(
            date_from=d["date_from"],
            date_to=d["date_to"],
            payer_id=d["payer"].pk if d.get("payer") else None,
            category=d.get("category") or "",
            provider_id=d["provider"].pk if d.get("provider") else None,
            location_id=d["location"].pk if d.get("location") else None,
        )


def _charts(m: dict) -> dict:
    t = m["time_to_decision"]
    return {
        "responses": hbar([(r["label"], r["rate"]) for r in m["responses"]], unit="%"),
        "time": hbar(
            [
                ("Submission → decision (median)", t["submission_median_hours"]),
                ("Submission → decision (9 in 10)", t["submission_p90_hours"]),
                ("Order → decision (median)", t["order_median_hours"]),
                ("Order → decision (9 in 10)", t["order_p90_hours"]),
            ],
            fmt=duration_words,
        ),
        "denials": hbar([(f"{r['code']} {r['text']}", r["n"]) for r in m["denial_reasons"]]),
        "backlog": hbar(list(m["backlog"]["ages"])),
        "cms": hbar([(r["payer"], r["rate"]) for r in m["cms"]], unit="%"),
        "scorecard": hbar([(r["payer"], r["approval_rate"]) for r in m["scorecard"]], unit="%"),
    }


def metrics_csv_rows(m: dict) -> list[list]:
    t = m["time_to_decision"]
    rows = [
        ["section", "item", "value"],
        ["period", "from", m["period"][0].isoformat()],
        ["period", "to", m["period"][1].isoformat()],
        ["decisions", "decided cases", m["decided"]],
        ["decisions", "staff touches per case", m["touches_per_case"]],
        ["decisions", "first-pass approval rate %", m["first_pass_rate"]],
        ["time to decision", "submission to decision median h", t["submission_median_hours"]],
        ["time to decision", "submission to decision p90 h", t["submission_p90_hours"]],
        ["time to decision", "order to decision median h", t["order_median_hours"]],
        ["time to decision", "order to decision p90 h", t["order_p90_hours"]],
    ]
    rows += [["payer responses", f"{r['label']} %", r["rate"]] for r in m["responses"]]
    rows += [["denials", "preventable: documentation %", m["preventable_share"]]]
    rows += [["denial reasons", f"{r['code']} {r['text']}".strip(), r["n"]] for r in m["denial_reasons"]]
    rows += [
        ["backlog", "open cases", m["backlog"]["open"]],
        ["backlog", "median age days", m["backlog"]["median_age_days"]],
    ]
    rows += [["backlog age", label, n] for label, n in m["backlog"]["ages"]]
    rows += [["backlog", "per 10 providers", m["backlog"]["per_10_providers"]]]
    rows += [["CMS-0057-F compliance %", r["payer"], r["rate"]] for r in m["cms"]]
    for r in m["scorecard"]:
        rows += [[f"payer scorecard: {r['payer']}", key, r[key]] for key in r if key != "payer"]
    rows += [
        ["reschedules avoided", "approved on or before the scheduled date", m["reschedules"]["avoided"]],
        ["reschedules avoided", "approvals with a scheduled date", m["reschedules"]["with_appointment"]],
    ]
    return rows


@login_required
@require_GET
def dashboard(request):
    user = request.user
    require_role(user, "dashboard")
    if not user.practice_id:
        raise Http404
    practice = user.practice
    today = timezone.localtime(timezone.now(), zoneinfo.ZoneInfo(practice.time_zone)).date()
    form = DashboardFilterForm(request.GET, practice=practice, today=today)
    if not form.is_valid():
        return render(request, "metrics/dashboard.html", {"form": form, "m": None}, status=400)
    m = dashboard_metrics(practice=practice, filters=form.filters())
    if request.GET.get("export") == "csv":
        # Figures per payer and provider, no patient rows: recorded as an export all the same.
        access_log_record(request=request, action=AccessLog.Action.EXPORT, what="metrics CSV")
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="pa-metrics-{today.isoformat()}.csv"'
        writer = csv.writer(response)
        for row in metrics_csv_rows(m):
            writer.writerow([csv_safe(cell) for cell in row])
        return response
    query = request.GET.copy()
    query["export"] = "csv"
    return render(
        request, "metrics/dashboard.html", {"form": form, "m": m, "charts": _charts(m), "csv_query": query.urlencode()}
    )
