"""Manual order entry (fax or phone). Apart from cases/views.py so the case-page views stay one file of case actions."""

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from cases.forms import ManualOrderForm
from cases.models import Patient
from cases.orders import order_create_manual
from cases.permissions import can_enter_orders

PATIENT_RESULTS = 20


def _patient_results(request, form) -> dict:
    """The picker's search (POSTed: a patient's name or birth date never goes into a URL)."""
    text = request.POST.get("patient_q", "").strip()[:100]
    found = list(Patient.objects.filter(practice=request.user.practice).search(text)[: PATIENT_RESULTS + 1])
    chosen = form["patient"].value() if form.is_bound else None
    return {
        "patient_q": text,
        "patients": found[:PATIENT_RESULTS],
        "more_patients": len(found) > PATIENT_RESULTS,
        "chosen_patient": str(chosen or ""),
    }


@login_required
@require_http_methods(["GET", "POST"])
def order_new(request):
    if not can_enter_orders(request.user):
        raise PermissionDenied
    form = ManualOrderForm(request.POST or None, practice=request.user.practice)
    finding = request.method == "POST" and "find" in request.POST
    if finding:
        # "Find" (or typing in the search box, through htmx): search only, nothing is validated or saved.
        context = {"form": ManualOrderForm(request.POST, practice=request.user.practice), "searched": True}
        context |= _patient_results(request, context["form"])
        if request.htmx:
            return render(request, "cases/_patient_results.html", context)
        context["form"] = ManualOrderForm(initial=request.POST.dict(), practice=request.user.practice)
        return render(request, "cases/order_form.html", context)
    if request.method == "POST" and form.is_valid():
        try:
            case = order_create_manual(practice=request.user.practice, actor=request.user, data=form.cleaned_data)
        except IntegrityError:
            form.add_error("mrn", "A patient with this MRN already exists: find them above.")
        else:
            return redirect(case)
    context = {"form": form}
    if request.method == "POST":
        context |= _patient_results(request, form)
        # The patient chosen before the error stays chosen and shown, even if the search no longer lists them.
        chosen = form.cleaned_data.get("patient") if hasattr(form, "cleaned_data") else None
        if chosen and chosen not in context["patients"]:
            context["patients"] = [chosen, *context["patients"]]
    return render(request, "cases/order_form.html", context)
