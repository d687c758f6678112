"""Staff re-run the eligibility check from the case page; the sandbox clearinghouse's URL is in sandbox.py."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from cases.models import PriorAuthCase
from cases.permissions import require_role
from integrations.x12_278.models import PayerRoute
from integrations.x12_278.tasks import enqueue_eligibility


@login_required
@require_POST
def case_eligibility(request, pk: int):
    case = get_object_or_404(PriorAuthCase.objects.visible_to(request.user).select_related("payer"), pk=pk)
    require_role(request.user, "submit")  # the people who verify coverage and send the request
    if not PayerRoute.objects.filter(payer_id=case.payer_id, clearinghouse__active=True).exists():
        raise Http404
    enqueue_eligibility(case.pk, request.user.pk)
    if request.htmx:
        return render(request, "x12_278/_case_eligibility.html", {"case": case, "eligibility_queued": True})
    return redirect("cases:detail", pk=case.pk)
