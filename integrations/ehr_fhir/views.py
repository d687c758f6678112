from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from cases.permissions import can_enter_orders
from integrations.ehr_fhir.forms import ManualOrderForm
from integrations.ehr_fhir.services import order_create_manual


@login_required
@require_http_methods(["GET", "POST"])
def order_new(request):
    if not can_enter_orders(request.user):
        raise PermissionDenied
    form = ManualOrderForm(request.POST or None, practice=request.user.practice)
    if request.method == "POST" and form.is_valid():
        try:
            case = order_create_manual(practice=request.user.practice, actor=request.user, data=form.cleaned_data)
        except IntegrityError:
            form.add_error("mrn", "A patient with this MRN already exists: choose them above.")
        else:
            return redirect(case)
    return render(request, "ehr_fhir/order_form.html", {"form": form})
