"""The dashboard's simulation page: the latest stored runs, automated beside manual (managers only)."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_GET

from cases.permissions import require_role
from cases.simulation.report import latest_pairs


@login_required
@require_GET
def simulation(request):
    require_role(request.user, "dashboard")
    pairs = latest_pairs()
    for pair in pairs:
        # Built here from numbers and fixed labels only (report.charts), never from user input.
        pair["svg"] = {name: mark_safe(svg) for name, svg in pair.get("charts", {}).items()}  # noqa: S308
    return render(request, "cases/simulation.html", {"pairs": pairs})
