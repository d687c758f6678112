"""The case page's submission fragment (polled while a request is on its way to the payer)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from cases.models import PriorAuthCase


@login_required
@require_GET
def case_submission(request, pk: int):
    case = get_object_or_404(PriorAuthCase.objects.visible_to(request.user).select_related("payer"), pk=pk)
    return render(request, "submission/_case_submission.html", {"case": case})
