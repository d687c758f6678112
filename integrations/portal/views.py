"""The portal guide: what to type into the payer's portal, and recording that it is in."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from cases.actions import case_record_outcome
from cases.audit.models import AccessLog
from cases.audit.services import access_log_cases
from cases.models import PriorAuthCase
from cases.permissions import get_case_for_user, require_role
from cases.services import ActionRefused
from integrations.portal.fields import portal_fields


class PortalSubmittedForm(forms.Form):
    payer_reference = forms.CharField(label="The portal's reference / case number", max_length=80)


def _case_for_guide(request, pk: int) -> PriorAuthCase:
    """The case if the user sees it (404), and their role submits (403)."""
    case = get_case_for_user(request, pk)
    require_role(request.user, "submit")
    return case


@login_required
@require_GET
def guide(request, pk: int):
    case = _case_for_guide(request, pk)
    access_log_cases(request=request, action=AccessLog.Action.VIEW, what="portal guide", cases=[case])
    return render(
        request,
        "portal/guide.html",
        {"case": case, "fields": portal_fields(case), "form": PortalSubmittedForm()},
    )


@login_required
@require_POST
def submitted(request, pk: int):
    case = _case_for_guide(request, pk)
    form = PortalSubmittedForm(request.POST)
    if not form.is_valid():
        return render(
            request, "portal/guide.html", {"case": case, "fields": portal_fields(case), "form": form}, status=400
        )
    try:
        case_record_outcome(
            case=case, actor=request.user, outcome="submitted", payer_reference=form.cleaned_data["payer_reference"]
        )
    except ActionRefused as exc:
        messages.error(request, str(exc))
        return redirect("portal:guide", pk=case.pk)
    messages.success(request, "Recorded: the payer has the request. Follow-ups come on its cadence.")
    return redirect("cases:detail", pk=case.pk)
