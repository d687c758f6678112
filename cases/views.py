"""Staff pages: the queue, the case page and its actions, the tasks inbox.

Every case is fetched through `cases.permissions.get_case_for_user` (404 for
anyone who may not see it); a role without the action gets 403
(`require_role`). Actions answer htmx with the case's fragments swapped out
of band and a plain POST with a redirect, so the page works without JavaScript.
"""

import datetime as dt

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Case, Count, F, Q, Value, When
from django.http import FileResponse, Http404, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from cases import actions, documents, forms, live, services
from cases.actions import summary_version
from cases.appeals import APPEALABLE, appeal_letter_draft, case_file_appeal
from cases.audit.models import AccessLog
from cases.audit.services import access_log_cases
from cases.facts import case_diagnoses, case_reference_facts
from cases.models import CaseEvent, Document, PriorAuthCase, RequirementStatus, Role, Status, User
from cases.orders import order_schedule_set
from cases.pagination import queue_page
from cases.permissions import (
    CASE_WORKER_ROLES,
    available_actions,
    can_complete_task,
    get_case_for_user,
    get_task_for_user,
    require_role,
    role_allows,
    sees_clinical,
    visible_tasks,
)
from cases.readiness import GATED, case_gate, case_next_step
from cases.transitions import OPEN_STATUSES, InvalidTransition
from cases.ui import case_sections
from integrations.submission.models import IN_FLIGHT
from payers.models import Payer

DEFAULT_VIEW = {
    Role.MANAGER: "all",
    Role.COORDINATOR: "mine",
    Role.CLINICIAN: "needs_me",
    Role.FRONT_DESK: "scheduling",
}
SORT_ORDER = {
    "deadline": ["decision_due_at", "created_at", "pk"],
    "age": ["created_at", "pk"],
    "patient": ["patient__last_name", "patient__first_name", "pk"],
    "scheduled": ["order__scheduled_date", "pk"],
}
PAGE_SIZE = 50
ASSIGNABLE_ROLES = [Role.COORDINATOR, Role.MANAGER]
QUEUE_FILTERS = ("q", "bucket", "payer", "category", "assignee", "location", "provider", "overdue")


def _practice_staff(user):
    """Who a case can be assigned to: the practice's active coordinators and managers (the roles that
    work cases; clinicians get tasks, the front desk schedules, admins configure)."""
    return (
        User.objects.filter(practice_id=user.practice_id, is_active=True, groups__name__in=ASSIGNABLE_ROLES)
        .distinct()
        .order_by("first_name", "last_name")
    )


def _case_workers(user):
    """The people a case may be handed to in bulk: the roles that work cases (permissions.CASE_WORKER_ROLES)."""
    return _practice_staff(user).filter(groups__name__in=list(CASE_WORKER_ROLES)).distinct()


# The queue's search words (patient names, MRNs) travel in a POST body and wait in the
# server-side session: never in a URL, so never in access logs, browser history or `?next=`.
QUEUE_SEARCH_KEY = "queue_search"
# Filters that may be in a URL: ids and choices, no patient data.
_NOT_IN_URL = ("q", "csrfmiddlewaretoken", "page", "after", "n")


def _queue_url(params) -> str:
    query = params.copy()
    for key in _NOT_IN_URL:
        query.pop(key, None)
    query = query.urlencode()
    return reverse("cases:queue") + (f"?{query}" if query else "")


@login_required
@require_http_methods(["GET", "POST"])
def queue(request):
    if request.method == "POST":
        request.session[QUEUE_SEARCH_KEY] = request.POST.get("q", "").strip()
        url = _queue_url(request.POST)
        if not request.htmx:
            return redirect(url)  # post/redirect/get: the address bar shows the filters only
        response = _queue_page(request, QueryDict(url.partition("?")[2]))
        response["HX-Push-Url"] = url
        return response
    if "q" in request.GET:
        # An old bookmark or a hand-typed link: keep the words, drop them from the address.
        request.session[QUEUE_SEARCH_KEY] = request.GET["q"].strip()
        return redirect(_queue_url(request.GET))
    return _queue_page(request, request.GET)


def _queue_page(request, query):
    user = request.user
    payers = list(Payer.objects.filter(active=True))
    staff = list(_practice_staff(user)) if role_allows(user, "assign") else []
    data = query.copy()
    data["q"] = request.session.get(QUEUE_SEARCH_KEY, "")
    data.setdefault("view", DEFAULT_VIEW.get(user.primary_role, "all"))
    form = forms.QueueFilterForm(data, payers=payers, practice_id=user.practice_id, staff=staff)
    # An invalid filter says so (400, the form's errors above the results) rather than being dropped silently.
    status = 200 if form.is_valid() else 400
    f = form.cleaned_data
    now = timezone.now()
    today = timezone.localdate()
    # A search reaches closed cases too (an approval, an expired authorization); the plain queue is open work.
    # The assignee's password hash has no business in a page of cases: not selected with the row.
    cases = PriorAuthCase.objects.visible_to(user).with_related().defer("assignee__password")
    if not f.get("q"):
        cases = cases.open()
    view = f.get("view") or "all"
    if f.get("q"):
        # A search looks through every case the user may see: a colleague's or a closed case is not a dead end.
        view = "all"
    if view == "mine":
        cases = cases.mine_or_unassigned(user)
    elif view == "needs_me":
        cases = cases.needing_clinician(user)
    elif view == "scheduling":
        cases = cases.scheduled()
    if f.get("q"):
        cases = cases.search(f["q"])
    if f.get("payer"):
        cases = cases.filter(payer=f["payer"])
    if f.get("category"):
        cases = cases.filter(rule__category=f["category"])
    if f.get("assignee") == "me":
        cases = cases.assigned_to(user)
    elif f.get("assignee") == "unassigned":
        cases = cases.unassigned()
    elif f.get("assignee"):
        cases = cases.filter(assignee_id=f["assignee"])
    if f.get("location"):
        cases = cases.filter(order__location=f["location"])
    if f.get("provider"):
        cases = cases.filter(order__ordering_provider=f["provider"])
    if f.get("overdue"):
        cases = cases.overdue(now)
    # Counts per status for everything the other filters leave (one aggregate query).
    per_status = cases.status_counts()
    if f.get("bucket"):
        cases = cases.filter(status__in=forms.BUCKETS[f["bucket"]][1])
    sort = f.get("sort") or "priority"
    unfiltered = view == "all" and not any(f.get(k) for k in QUEUE_FILTERS)
    if sort == "priority" and f.get("q"):
        # Closed cases have no queue key: open ones first in queue order, then the closed, newest first.
        closed_last = Case(When(status__in=list(OPEN_STATUSES), then=Value(0)), default=Value(1))
        ordered = cases.order_by(closed_last, "priority_key", "-created_at", "pk")
        page = Paginator(ordered, PAGE_SIZE).get_page(query.get("page"))
    elif sort == "priority":
        page = queue_page(cases.prioritized(), query, estimate=unfiltered, per_page=PAGE_SIZE)
    else:
        page = Paginator(cases.order_by(*SORT_ORDER[sort]), PAGE_SIZE).get_page(query.get("page"))
    # One access-log row for the rows this page shows (already loaded: one INSERT, no read).
    # A search is recorded as a search, with the ids it returned and never the words typed.
    access_log_cases(
        request=request,
        action=AccessLog.Action.SEARCH if f.get("q") else AccessLog.Action.VIEW,
        what="queue search results" if f.get("q") else "queue",
        cases=list(page),
        page=page.number,
    )
    params = query.copy()
    for key in _NOT_IN_URL:
        params.pop(key, None)
    others = params.copy()
    others.pop("bucket", None)
    others = others.urlencode()
    status_counts = [
        {
            "key": key,
            "label": label,
            "n": sum(per_status.get(s, 0) for s in statuses),
            "url": f"?{others}&bucket={key}" if others else f"?bucket={key}",
        }
        for key, (label, statuses) in forms.BUCKETS.items()
    ]
    context = {
        "page": page,
        "form": form,
        "querystring": params.urlencode(),
        "now": now,
        "today": today,
        "can_assign": role_allows(user, "assign"),
        "can_approve": role_allows(user, "approve"),
        "searching": bool(f.get("q")),
        "staff": staff,
        "roles": [(Role.COORDINATOR, "Coordinators (spread evenly)")],
        "status_counts": status_counts,
        "all_statuses_url": f"?{others}" if others else "?",
        "bucket": f.get("bucket") or "",
    }
    template = "cases/_queue_results.html" if request.htmx else "cases/queue.html"
    return render(request, template, context, status=status)


@login_required
@require_POST
def bulk_assign(request):
    require_role(request.user, "assign")
    form = forms.BulkAssignForm(request.POST)
    ids = [int(x) for x in request.POST.getlist("cases") if x.isdigit()][:200]
    cases = list(PriorAuthCase.objects.visible_to(request.user).filter(pk__in=ids).select_related("assignee"))
    to = form.data.get("to", "") if form.is_valid() else ""
    try:
        if not cases:
            raise services.ActionRefused("Select at least one case.")
        if to.startswith("role:"):
            if to.removeprefix("role:") not in CASE_WORKER_ROLES:
                raise services.ActionRefused("Cases can only be spread over coordinators or managers.")
            whom = {"role": to.removeprefix("role:")}
        elif to == "none":
            whom = {"user": None}
        elif to.startswith("user:") and to[5:].isdigit():
            worker = _case_workers(request.user).filter(pk=int(to[5:])).first()
            if worker is None:
                raise services.ActionRefused("Cases can only be assigned to a coordinator or manager of the practice.")
            whom = {"user": worker}
        else:
            raise services.ActionRefused("Choose whom to assign to.")
        services.cases_assign_bulk(cases=cases, actor=request.user, **whom)
        n = f"{len(cases)} case{'' if len(cases) == 1 else 's'}"
        if "role" in whom:
            messages.success(request, f"Assigned {n} to the {Role(whom['role']).label.lower()}s, spread evenly.")
        elif whom["user"] is None:
            messages.success(request, f"Unassigned {n}.")
        else:
            messages.success(request, f"Assigned {n} to {whom['user'].display()}.")
    except services.ActionRefused as exc:
        messages.error(request, str(exc))
    if request.htmx:
        response = HttpResponse(status=204)
        response["HX-Trigger"] = "queue-changed"
        return response
    return redirect(f"{reverse('cases:queue')}?{request.POST.get('querystring', '')}")


BULK_LIMIT = 200


def _safe_next(request, default: str) -> str:
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return default


@login_required
@require_POST
def bulk_approve(request):
    """A manager approves the selected cases for submission: those whose gate is met; the rest listed with why."""
    require_role(request.user, "approve")
    raw = request.POST.getlist("cases") + request.POST.getlist("case")  # the queue's and the sweep's checkboxes
    ids = [int(x) for x in raw if x.isdigit()][:BULK_LIMIT]
    cases = list(PriorAuthCase.objects.visible_to(request.user).filter(pk__in=ids).with_related().order_by("pk"))
    if not cases:
        messages.error(request, "Select at least one case to approve.")
    else:
        approved, refused = actions.cases_approve_bulk(cases=cases, actor=request.user)
        if approved:
            messages.success(
                request, f"Approved {len(approved)} case{'s' if len(approved) != 1 else ''} for submission."
            )
        for case, reason in refused:
            messages.warning(request, f"Not approved: case {case.pk} ({case.patient}): {reason}.")
    if request.htmx:
        response = HttpResponse(status=204)
        response["HX-Trigger"] = "queue-changed"
        return response
    default = f"{reverse('cases:queue')}?{request.POST.get('querystring', '')}"
    return redirect(_safe_next(request, default))


@login_required
@require_GET
def authorizations(request):
    """Approved and partially approved cases: number, dates, units, used and remaining; for scheduling."""
    require_role(request.user, "authorizations")
    form = forms.AuthorizationFilterForm(request.GET, practice_id=request.user.practice_id)
    form.is_valid()  # a bad value in one filter drops that filter (and says so under the form)
    f = form.cleaned_data
    rows = PriorAuthCase.objects.visible_to(request.user).with_authorization().with_related()
    if f.get("provider"):
        rows = rows.filter(order__ordering_provider=f["provider"])
    if f.get("location"):
        rows = rows.filter(order__location=f["location"])
    if f.get("valid_on"):
        rows = rows.authorized_on(f["valid_on"])
    if f.get("ending_by"):
        rows = rows.filter(auth_effective_end__lte=f["ending_by"])
    rows = rows.order_by(F("auth_effective_end").asc(nulls_last=True), "pk")
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    params = request.GET.copy()
    params.pop("page", None)
    return render(
        request,
        "cases/authorizations.html",
        {
            "form": form,
            "page": page,
            "querystring": params.urlencode(),
            "can_record_units": role_allows(request.user, "units_used"),
            "today": timezone.localdate(),
        },
    )


@login_required
@require_POST
def case_units_used(request, pk: int):
    def run(case):
        data = _form_or_refuse(forms.UnitsUsedForm, request)
        services.case_record_units_used(case=case, actor=request.user, units_used=data["units_used"])
        return f"Units used recorded for case {case.pk}."

    case = get_case_for_user(request, pk)
    require_role(request.user, "units_used")
    try:
        messages.success(request, run(case))
    except services.ActionRefused as exc:
        messages.error(request, str(exc))
    return redirect(_safe_next(request, reverse("cases:authorizations")))


def _case_context(request, case: PriorAuthCase) -> dict:
    """Everything the case page and its fragments need: a fixed number of queries."""
    tasks = list(case.tasks.open().select_related("assignee"))
    requirements = list(case.requirement_statuses.select_related("requirement", "resolved_by"))
    gaps = [rs for rs in requirements if rs.state == RequirementStatus.State.GAP]
    open_kinds = {t.kind for t in tasks}
    # Submitted a moment ago: the engine has the request, the payer's receipt is not in yet (one query, ready only).
    sending = case.status == Status.READY and case.submissions.filter(state__in=IN_FLIGHT).exists()
    actions = available_actions(request.user, case, open_task_kinds=open_kinds, has_gaps=bool(gaps), sending=sending)
    blockers = case_gate(case, gap_count=len(gaps), open_task_kinds=open_kinds) if case.status in GATED else []
    return {
        "case": case,
        "events": case.events.select_related("actor")[:200],
        "tasks": [(t, can_complete_task(request.user, t)) for t in tasks],
        "requirements": requirements,
        "documents": case.documents.select_related("uploaded_by", "requirement"),
        "actions": actions,
        "staff": _practice_staff(request.user) if actions["assign"] else [],
        "gaps": gaps,
        "blockers": blockers,
        "next_step": case_next_step(case, blockers=blockers, open_task_kinds=open_kinds, sending=sending),
        "summary_version": summary_version(case.summary_text),
        "live_version": live.case_version(case.pk),
        "outcome_form": forms.OutcomeForm(),
        "upload_form": forms.UploadForm(),
        "input_form": forms.ClinicianInputForm(),
        "appeal_draft": appeal_letter_draft(case) if actions["appeal"] else "",
        "update_form": forms.SendUpdateForm(),
        "sections": case_sections(),
        "reference_facts": case_reference_facts(case),
        "diagnoses": case_diagnoses(case),
        "now": timezone.now(),
        "today": timezone.localdate(),
    }


@login_required
@require_GET
def case_detail(request, pk: int):
    case = get_case_for_user(request, pk)
    if not sees_clinical(request.user):
        access_log_cases(request=request, action=AccessLog.Action.VIEW, what="case page (scheduling)", cases=[case])
        return render(request, "cases/detail_scheduling.html", _scheduling_context(request, case))
    access_log_cases(request=request, action=AccessLog.Action.VIEW, what="case page", cases=[case])
    return render(request, "cases/detail.html", _case_context(request, case))


def _scheduling_context(request, case: PriorAuthCase) -> dict:
    """The front desk's case page: scheduling facts and their own tasks, nothing clinical (minimum necessary)."""
    user = request.user
    # Only tasks meant for this person or role: another role's task may quote the payer or a clinician.
    tasks = case.tasks.open().for_user(user).select_related("assignee")
    return {
        "case": case,
        "tasks": [(t, can_complete_task(user, t)) for t in tasks],
        "actions": available_actions(user, case, open_task_kinds=set(), has_gaps=False),
        "next_step": case_next_step(case),
        "live_version": live.case_version(case.pk),
        "now": timezone.now(),
        "today": timezone.localdate(),
    }


def _case_response(request, pk: int):
    """After an action: the fragments (htmx) or a redirect to the case page."""
    if request.htmx and not sees_clinical(request.user):
        # The case page's fragments carry the clinical side: the scheduling page answers with its own, in place.
        case = get_case_for_user(request, pk)
        return render(request, "cases/_scheduling_refresh.html", _scheduling_context(request, case))
    if request.htmx:
        case = get_case_for_user(request, pk)
        return render(request, "cases/_case_refresh.html", _case_context(request, case))
    return redirect("cases:detail", pk=pk)


@login_required
@require_GET
def case_live(request, pk: int):
    """The case page's background poll: 204 while the case is as the page shows it, else every fragment.

    One query answers "unchanged" (`cases.live.case_version_for_user`). The poll sends
    X-Background-Poll: 1, so it does not count as the person being active (idle logoff).
    """
    version = live.case_version_for_user(request.user, pk)
    if version is None:
        raise Http404("No such case.")
    if request.GET.get("v", "") == version:
        return HttpResponse(status=204)
    case = get_case_for_user(request, pk)
    if not sees_clinical(request.user):
        # The front desk's scheduling page polls too: its own fragments only, nothing clinical.
        context = _scheduling_context(request, case)
        context["background"] = True
        return render(request, "cases/_scheduling_refresh.html", context)
    context = _case_context(request, case)
    context["background"] = True  # no flash messages: they belong to the person's next page
    return render(request, "cases/_case_refresh.html", context)


def _act(request, pk: int, action: str, run):
    """Shared shape of every case action: see, may, try, answer."""
    case = get_case_for_user(request, pk)
    require_role(request.user, action)
    try:
        messages.success(request, run(case))
    except (services.ActionRefused, InvalidTransition, ValueError) as exc:
        messages.error(request, str(exc))
    return _case_response(request, pk)


def _form_or_refuse(form_class, request, **kwargs):
    form = form_class(request.POST, request.FILES, **kwargs)
    if not form.is_valid():
        errors = "; ".join(
            f"{form.fields[k].label or k}: {' '.join(v)}" if k in form.fields else " ".join(v)
            for k, v in form.errors.items()
        )
        raise services.ActionRefused(errors)
    return form.cleaned_data


@login_required
@require_POST
def case_assign(request, pk: int):
    def run(case):
        data = _form_or_refuse(forms.AssignForm, request, staff_qs=_practice_staff(request.user))
        services.case_assign(case=case, user=data["assignee"], actor=request.user)
        return f"Assigned to {data['assignee'].display()}." if data["assignee"] else "Unassigned."

    return _act(request, pk, "assign", run)


@login_required
@require_POST
def case_pick_up(request, pk: int):
    def run(case):
        services.case_assign(case=case, user=request.user, actor=request.user)
        return "The case is yours."

    return _act(request, pk, "assign", run)


@login_required
@require_POST
def case_note(request, pk: int):
    def run(case):
        services.case_add_note(case=case, actor=request.user, text=_form_or_refuse(forms.NoteForm, request)["text"])
        return "Note added."

    return _act(request, pk, "note", run)


@login_required
@require_POST
def case_upload(request, pk: int):
    def run(case):
        data = _form_or_refuse(forms.UploadForm, request)
        gap = None
        if data.get("requirement"):
            gap = get_object_or_404(case.requirement_statuses.select_related("requirement"), pk=data["requirement"])
        documents.document_upload(
            case=case,
            actor=request.user,
            file=data["file"],
            title=data["title"],
            kind=data["kind"],
            requirement_status=gap,
        )
        return "Document uploaded."

    return _act(request, pk, "upload", run)


@login_required
@require_POST
def case_resolve_gap(request, pk: int):
    def run(case):
        data = _form_or_refuse(forms.ResolveGapForm, request)
        gap = get_object_or_404(case.requirement_statuses.select_related("requirement"), pk=data["requirement"])
        actions.case_resolve_gap(case=case, requirement_status=gap, actor=request.user, note=data["note"])
        return "Gap resolved."

    return _act(request, pk, "resolve_gap", run)


@login_required
@require_POST
def case_request_input(request, pk: int):
    def run(case):
        data = _form_or_refuse(forms.ClinicianInputForm, request)
        due = None
        if data.get("due"):
            due = timezone.make_aware(dt.datetime.combine(data["due"], dt.time(17, 0)))
        actions.case_request_clinician_input(case=case, actor=request.user, question=data["question"], due_at=due)
        return "Clinician input requested."

    return _act(request, pk, "request_input", run)


@login_required
@require_POST
def case_attest(request, pk: int):
    def run(case):
        # The fingerprint of the text the page showed: a summary changed since is not attested unread.
        actions.case_attest_summary(case=case, actor=request.user, version=request.POST.get("version", ""))
        return "Summary attested."

    return _act(request, pk, "attest", run)


@login_required
@require_POST
def case_update_summary(request, pk: int):
    def run(case):
        data = _form_or_refuse(forms.SummaryForm, request)
        actions.case_update_summary(case=case, actor=request.user, text=data["text"])
        return "Summary saved. It needs the clinician's attestation again."

    return _act(request, pk, "edit_summary", run)


@login_required
@require_POST
def case_approve(request, pk: int):
    def run(case):
        actions.case_approve_submission(case=case, actor=request.user)
        return "Submission approved."

    return _act(request, pk, "approve", run)


@login_required
@require_POST
def case_submit(request, pk: int):
    def run(case):
        actions.case_submit(case=case, actor=request.user)
        return "Submission requested."

    return _act(request, pk, "submit", run)


@login_required
@require_POST
def case_send_update(request, pk: int):
    def run(case):
        data = _form_or_refuse(forms.SendUpdateForm, request)
        actions.case_send_update(case=case, actor=request.user, message=data["message"])
        return "Additional information on its way to the payer."

    return _act(request, pk, "send_update", run)


@login_required
@require_POST
def case_outcome(request, pk: int):
    """Record the payer's answer; a form that does not hold comes back with its input and the error at the field."""
    case = get_case_for_user(request, pk)
    require_role(request.user, "record_outcome")
    form = forms.OutcomeForm(request.POST)
    if form.is_valid():
        try:
            actions.case_record_outcome(case=case, actor=request.user, **form.cleaned_data)
        except (services.ActionRefused, InvalidTransition, ValueError) as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, "Payer outcome recorded.")
            return _case_response(request, pk)
    messages.error(request, "The outcome was not recorded: see the form.")
    context = _case_context(request, case) | {"outcome_form": form, "outcome_open": True}
    if request.htmx:
        # htmx swaps only 2xx answers; the fragments carry the kept input and the errors.
        return render(request, "cases/_case_refresh.html", context)
    return render(request, "cases/detail.html", context, status=400)


@login_required
@require_POST
def case_escalate(request, pk: int):
    def run(case):
        actions.case_escalate(
            case=case, actor=request.user, reason=_form_or_refuse(forms.ReasonForm, request)["reason"]
        )
        return "Escalated to the managers."

    return _act(request, pk, "escalate", run)


@login_required
@require_POST
def case_schedule(request, pk: int):
    def run(case):
        day = _form_or_refuse(forms.ScheduleForm, request)["scheduled_date"]
        order_schedule_set(order=case.order, day=day, actor=request.user)
        return f"Service date set to {day:%m/%d/%Y} (entered by hand)." if day else "Service date removed."

    return _act(request, pk, "schedule", run)


@login_required
@require_POST
def case_cancel(request, pk: int):
    def run(case):
        actions.case_cancel(case=case, actor=request.user, reason=_form_or_refuse(forms.ReasonForm, request)["reason"])
        return "Case cancelled."

    return _act(request, pk, "cancel", run)


@login_required
@require_POST
def case_decide_pa(request, pk: int):
    def run(case):
        data = _form_or_refuse(forms.PaDecisionForm, request)
        actions.case_decide_pa(case=case, actor=request.user, required=data["required"], reason=data["reason"])
        return "PA required: gather the packet." if data["required"] else "Marked as not needing PA."

    return _act(request, pk, "decide_pa", run)


@login_required
@require_POST
def case_close(request, pk: int):
    def run(case):
        actions.case_close(case=case, actor=request.user, reason=_form_or_refuse(forms.ReasonForm, request)["reason"])
        return "Case closed."

    return _act(request, pk, "close", run)


@login_required
@require_POST
def case_appeal(request, pk: int):
    def run(case):
        case_file_appeal(case=case, actor=request.user, letter=_form_or_refuse(forms.AppealForm, request)["letter"])
        return "Appeal recorded; the letter is kept with the case's documents."

    return _act(request, pk, "appeal", run)


@login_required
@require_http_methods(["GET", "POST"])
def case_appeal_letter(request, pk: int):
    """The appeal letter full-size: GET shows the draft to edit; POST with `letter` answers the edited text as a PDF."""
    case = get_case_for_user(request, pk)
    require_role(request.user, "appeal")
    if case.status not in APPEALABLE:
        messages.error(request, "Only a denied or partially approved case can be appealed.")
        return redirect("cases:detail", pk=pk)
    if request.method == "GET":
        form = forms.AppealForm(initial={"letter": appeal_letter_draft(case)})
        return render(request, "cases/appeal_letter.html", {"case": case, "form": form})
    form = forms.AppealForm(request.POST)
    if not form.is_valid():
        return render(request, "cases/appeal_letter.html", {"case": case, "form": form}, status=400)
    from cases import packet_pdf  # fpdf2 loads on first use

    try:
        content = packet_pdf.appeal_letter_pdf(case=case, text=form.cleaned_data["letter"])
    except packet_pdf.PacketError as exc:
        form.add_error(None, str(exc))
        return render(request, "cases/appeal_letter.html", {"case": case, "form": form}, status=503)
    response = HttpResponse(content, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="case-{case.pk}-appeal-letter.pdf"'
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "no-store, private"  # PHI: no copy in a shared or browser cache
    return response


@login_required
@require_GET
def document_download(request, pk: int, doc_pk: int):
    case = get_case_for_user(request, pk)
    require_role(request.user, "download")
    doc = get_object_or_404(Document, pk=doc_pk, case=case)
    if not doc.file:
        raise Http404("This document is kept in the EHR.")
    # Downloads are PHI reads that auditlog cannot see: they go on the timeline and in the access log.
    services.case_event_add(
        case=case, kind=CaseEvent.Kind.DOCUMENT, actor=request.user, message="Document downloaded", document_id=doc.pk
    )
    access_log_cases(
        request=request, action=AccessLog.Action.DOWNLOAD, what="document", cases=[case], document_id=doc.pk
    )
    ext = {"application/pdf": ".pdf", "image/png": ".png", "image/jpeg": ".jpg", "text/plain": ".txt"}.get(
        doc.content_type, ""
    )
    return FileResponse(
        doc.file.open("rb"),
        as_attachment=True,
        filename=f"case-{case.pk}-document-{doc.pk}{ext}",
        content_type=doc.content_type or "application/octet-stream",
    )


@login_required
@require_GET
def case_packet(request, pk: int):
    case = get_case_for_user(request, pk)
    require_role(request.user, "packet")
    from cases import packet_pdf  # fpdf2 and Pillow load on first use, not at every start (~0.5 s)

    try:
        packet = packet_pdf.packet_download(case=case, actor=request.user)
    except (services.ActionRefused, packet_pdf.PacketError) as exc:
        messages.error(request, str(exc))
        return redirect("cases:detail", pk=pk)
    access_log_cases(request=request, action=AccessLog.Action.DOWNLOAD, what="submission packet", cases=[case])
    response = HttpResponse(packet.content, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="case-{case.pk}-packet.pdf"'
    response["X-Content-Type-Options"] = "nosniff"
    # PHI: no copy in a shared or browser cache.
    response["Cache-Control"] = "no-store, private"
    return response


TASK_TABS = [("mine", "Mine"), ("unassigned", "Unassigned"), ("team", "Team")]


def _task_tab_filters(user) -> dict[str, Q]:
    """The inbox's tabs, disjoint.

    Mine: assigned to me, or waiting for my role on a case assigned to me. Unassigned: waiting for my role (or
    anyone) with nobody named. Team: the rest, my colleagues' tasks.
    """
    for_my_role = Q(assignee__isnull=True) & (Q(role__in=list(user.role_names())) | Q(role=""))
    mine = Q(assignee=user) | (for_my_role & Q(case__assignee=user))
    unassigned = for_my_role & ~Q(case__assignee=user)
    return {"mine": mine, "unassigned": unassigned, "team": ~mine & ~unassigned}


@login_required
@require_GET
def task_inbox(request):
    user = request.user
    payers = list(Payer.objects.filter(active=True))
    form = forms.TaskFilterForm(request.GET, payers=payers)
    form.is_valid()  # an unknown value in one filter drops that filter only
    f = form.cleaned_data
    tab = f.get("tab") or "mine"
    tasks = visible_tasks(user).open()
    if f.get("kind"):
        tasks = tasks.filter(kind=f["kind"])
    if f.get("payer"):
        tasks = tasks.filter(case__payer_id=f["payer"])
    filters = _task_tab_filters(user)
    # One query for the three counts, with the same kind / payer filters as the list.
    counts = tasks.aggregate(**{name: Count("pk", filter=q) for name, q in filters.items()})
    rows = (
        tasks.filter(filters[tab])
        .select_related("case", "case__patient", "case__order", "case__payer", "assignee")
        # Due first (so the overdue, whose dates are past, lead), undated last.
        .order_by(F("due_at").asc(nulls_last=True), "created_at", "pk")
    )
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    params = request.GET.copy()
    params.pop("page", None)
    filter_params = params.copy()
    filter_params.pop("tab", None)
    rows = [(t, can_complete_task(user, t)) for t in page]
    access_log_cases(
        request=request,
        action=AccessLog.Action.VIEW,
        what="tasks",
        cases=[t.case for t, _ in rows],
        page=page.number,
    )
    return render(
        request,
        "cases/tasks.html",
        {
            "page": page,
            "rows": rows,
            "tab": tab,
            "tabs": [(value, label, counts[value]) for value, label in TASK_TABS],
            "form": form,
            "now": timezone.now(),
            "querystring": params.urlencode(),
            "filter_querystring": filter_params.urlencode(),
        },
    )


@login_required
@require_POST
def task_complete(request, task_pk: int):
    task = get_task_for_user(request, task_pk)
    if not can_complete_task(request.user, task):
        raise PermissionDenied
    note = forms.TaskCompleteForm(request.POST)
    if not note.is_valid():
        # Refused whole: completing the task and dropping the answer loses what the person wrote.
        error = "Not done: " + " ".join(note.errors.get("note", ["the answer could not be read."]))
        if request.htmx and request.POST.get("from") != "case":
            return HttpResponse(error, status=400, content_type="text/plain; charset=utf-8")
        messages.error(request, error)
        return _case_response(request, task.case_id) if request.POST.get("from") == "case" else redirect("cases:tasks")
    actions.task_complete(task=task, actor=request.user, answer=note.cleaned_data["note"])
    messages.success(request, f"Done: {task.title}")
    if request.POST.get("from") == "case":
        return _case_response(request, task.case_id)
    if request.htmx:
        return render(request, "cases/_task_done.html", {"task": task})
    return redirect("cases:tasks")
