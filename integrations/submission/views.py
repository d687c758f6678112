"""The case page's submission fragment (polled while a request is on its way to the payer)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.views.decorators.http import require_GET

from cases.permissions import get_case_for_user, require_role


@login_required
@require_GET
def case_submission(request, pk: int):
    case = get_case_for_user(request, pk)
    require_role(request.user, "clinical")  # the payer's words and what was sent: not the front desk's
    return render(request, "submission/_case_submission.html", {"case": case})
