"""Manual order entry (fax or phone). Apart from cases/views.py so the case-page views stay one file of case actions."""

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from cases.forms import ManualOrderForm
from cases.orders import order_create_manual
from cases.permissions import can_enter_orders


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
    return render(request, "cases/order_form.html", {"form": form})
