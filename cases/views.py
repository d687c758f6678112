from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from cases.models import PriorAuthCase


def _get_case_for_user(request, pk: int) -> PriorAuthCase:
    """The case if this user may see it; 404 otherwise, so existence does not leak."""
    return get_object_or_404(PriorAuthCase.objects.visible_to(request.user).with_related(), pk=pk)


@login_required
@require_GET
def queue(request):
    cases = (
        PriorAuthCase.objects.visible_to(request.user).open().with_related().order_by("decision_due_at", "created_at")
    )
    page = Paginator(cases, 50).get_page(request.GET.get("page"))
    return render(request, "cases/queue.html", {"page": page})


@login_required
@require_GET
def case_detail(request, pk: int):
    case = _get_case_for_user(request, pk)
    events = case.events.select_related("actor")
    tasks = case.tasks.open().select_related("assignee")
    requirements = case.requirement_statuses.select_related("requirement")
    return render(
        request,
        "cases/detail.html",
        {"case": case, "events": events, "tasks": tasks, "requirements": requirements},
    )
