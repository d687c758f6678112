"""The sweep page: the latest sweep, by bucket, as each role may see it."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count, Exists, OuterRef, Prefetch
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from cases.audit.models import AccessLog
from cases.audit.services import access_log_cases
from cases.models import Role, Task, User
from cases.permissions import require_role, role_allows
from cases.sweep.buckets import describe_items
from cases.sweep.models import Bucket, Sweep, SweepItem
from cases.sweep.services import (
    latest_sweep,
    previous_sweep,
    sweep_bulk_assign,
    sweep_changes,
    sweep_item_reschedule_task,
    sweep_run,
)


def _assignable(practice_id):
    return (
        User.objects.filter(practice_id=practice_id, is_active=True, groups__name__in=[Role.COORDINATOR, Role.MANAGER])
        .distinct()
        .order_by("first_name", "last_name", "username")
    )


@login_required
@require_GET
def sweep_page(request):
    user = request.user
    sweep = latest_sweep(user.practice_id) if user.practice_id else None
    context = {
        "sweep": sweep,
        "can_run": role_allows(user, "sweep_run"),
        "can_assign": role_allows(user, "sweep_assign"),
        "can_compare": role_allows(user, "sweep_compare"),
        "buckets": [],
    }
    if sweep is None:
        return render(request, "sweep/page.html", context)
    items = SweepItem.objects.filter(sweep=sweep).visible_to(user)
    visible = dict(items.order_by().values_list("bucket").annotate(n=Count("pk")))
    before = previous_sweep(sweep)
    # No earlier sweep: nothing to compare, so no "new / gone" figures (they would all be "new").
    changes = sweep_changes(sweep, before) if context["can_compare"] and before else {}
    buckets = [
        {"value": value, "label": label, "count": visible.get(value, 0), "change": changes.get(value)}
        for value, label in Bucket.choices
        if context["can_compare"] or visible.get(value)
    ]
    chosen = request.GET.get("bucket")
    if chosen not in Bucket.values:
        chosen = next((b["value"] for b in buckets if b["count"]), Bucket.READY_TO_SUBMIT)
    rows = (
        items.filter(bucket=chosen)
        .select_related("case__patient", "case__order__location", "case__payer", "case__assignee")
        .order_by("due_on", "id")
    )
    if before is not None:
        rows = rows.annotate(
            is_new=~Exists(SweepItem.objects.filter(sweep=before, bucket=chosen, case_id=OuterRef("case_id")))
        )
    if chosen == Bucket.SCHEDULE_AT_RISK:
        rows = rows.prefetch_related(
            Prefetch(
                "case__tasks",
                queryset=Task.objects.filter(kind=Task.Kind.RESCHEDULE, done_at__isnull=True),
                to_attr="open_reschedule_tasks",
            )
        )
    page = Paginator(rows, 50).get_page(request.GET.get("page"))
    context.update(
        items=describe_items(sweep, page.object_list),
        before=before,
        buckets=buckets,
        bucket=chosen,
        bucket_label=Bucket(chosen).label,
        page=page,
        assignable=_assignable(user.practice_id) if context["can_assign"] else [],
        can_reschedule=role_allows(user, "sweep_reschedule"),
        # Bulk approval from the ready bucket (cases:bulk_approve checks each case's gate again).
        can_approve=chosen == Bucket.READY_TO_SUBMIT and role_allows(user, "approve"),
    )
    access_log_cases(
        request=request,
        action=AccessLog.Action.VIEW,
        what=f"sweep: {chosen}",
        cases=[item.case for item in context["items"]],
        page=page.number,
    )
    template = "sweep/_body.html" if request.htmx else "sweep/page.html"
    return render(request, template, context)


@login_required
@require_POST
def sweep_run_now(request):
    require_role(request.user, "sweep_run")
    # Run in the request: it takes seconds even for a large practice (see
    # docs/performance.md) and then works without a running cluster.
    sweep = sweep_run(practice=request.user.practice, actor=request.user)
    total = sum(sweep.counts.values())
    messages.success(request, f"Sweep done: {total} item{'' if total == 1 else 's'}.")
    return redirect("sweep:page")


@login_required
@require_POST
def sweep_assign(request, pk: int):
    require_role(request.user, "sweep_assign")
    sweep = get_object_or_404(Sweep, pk=pk, practice_id=request.user.practice_id)
    bucket = request.POST.get("bucket", "")
    raw = request.POST.get("assignee", "")
    # Not a number is as unknown as someone else's user: 404, not a 500 from the lookup.
    assignee = get_object_or_404(_assignable(request.user.practice_id), pk=int(raw) if raw.isdigit() else 0)
    if bucket not in Bucket.values:
        raise Http404
    whole_bucket = request.POST.get("scope") == "bucket"
    case_ids = None if whole_bucket else [int(v) for v in request.POST.getlist("case") if v.isdigit()]
    if case_ids == []:
        messages.error(request, "Select at least one case, or assign the whole bucket.")
    else:
        changed = sweep_bulk_assign(sweep=sweep, bucket=bucket, user=assignee, actor=request.user, case_ids=case_ids)
        messages.success(request, f"Assigned {changed} case{'' if changed == 1 else 's'} to {assignee.display()}.")
    return redirect(f"{reverse('sweep:page')}?bucket={bucket}")


@login_required
@require_POST
def sweep_reschedule(request, pk: int):
    require_role(request.user, "sweep_reschedule")
    item = get_object_or_404(
        SweepItem.objects.visible_to(request.user).select_related("case__order", "sweep__practice"),
        pk=pk,
        bucket=Bucket.SCHEDULE_AT_RISK,
    )
    task = sweep_item_reschedule_task(item=item, actor=request.user)
    messages.success(request, "Reschedule task created." if task else "A reschedule task already exists.")
    return redirect(f"{reverse('sweep:page')}?bucket={Bucket.SCHEDULE_AT_RISK}")
