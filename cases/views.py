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
from django.http import FileResponse, Http404, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from cases import actions, documents, forms, services
from cases.appeals import appeal_letter_draft, case_file_appeal
from cases.audit.models import AccessLog
from cases.audit.services import access_log_cases
from cases.models import CaseEvent, Document, PriorAuthCase, RequirementStatus, Role, User
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
from cases.transitions import InvalidTransition
from cases.ui import case_sections
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
QUEUE_FILTERS = ("q", "bucket", "payer", "category", "assignee", "location", "provider", "overdue")


def _practice_staff(user):
    return User.objects.filter(practice_id=user.practice_id, is_active=True).order_by("first_name", "last_name")


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
    cases = PriorAuthCase.objects.visible_to(user).open().with_related()
    view = f.get("view") or "all"
    if view == "mine":
        cases = cases.mine_or_unassigned(user)
    elif view == "needs_me":
        cases = cases.needing_clinician(user)
    elif view == "scheduling":
        cases = cases.scheduled()
    if f.get("q"):
        cases = cases.search(f["q"])
    if f.get("bucket"):
        cases = cases.filter(status__in=forms.BUCKETS[f["bucket"]][1])
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
    sort = f.get("sort") or "priority"
    unfiltered = view == "all" and not any(f.get(k) for k in QUEUE_FILTERS)
    if sort == "priority":
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
    context = {
        "page": page,
        "form": form,
        "querystring": params.urlencode(),
        "now": now,
        "today": today,
        "can_assign": role_allows(user, "assign"),
        "staff": staff,
        "roles": [(Role.COORDINATOR, "Coordinators (spread evenly)")],
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
        messages.success(request, f"Assigned {len(cases)} case(s).")
    except services.ActionRefused as exc:
        messages.error(request, str(exc))
    if request.htmx:
        response = HttpResponse(status=204)
        response["HX-Trigger"] = "queue-changed"
        return response
    return redirect(f"{reverse('cases:queue')}?{request.POST.get('querystring', '')}")


def _case_context(request, case: PriorAuthCase) -> dict:
    """Everything the case page and its fragments need: a fixed number of queries."""
    tasks = list(case.tasks.open().select_related("assignee"))
    requirements = list(case.requirement_statuses.select_related("requirement", "resolved_by"))
    has_gaps = any(rs.state == RequirementStatus.State.GAP for rs in requirements)
    actions = available_actions(request.user, case, open_task_kinds={t.kind for t in tasks}, has_gaps=has_gaps)
    return {
        "case": case,
        "events": case.events.select_related("actor")[:200],
        "tasks": [(t, can_complete_task(request.user, t)) for t in tasks],
        "requirements": requirements,
        "documents": case.documents.select_related("uploaded_by", "requirement"),
        "actions": actions,
        "staff": _practice_staff(request.user) if actions["assign"] else [],
        "gaps": [rs for rs in requirements if rs.state == RequirementStatus.State.GAP],
        "outcome_form": forms.OutcomeForm(),
        "upload_form": forms.UploadForm(),
        "input_form": forms.ClinicianInputForm(),
        "appeal_draft": appeal_letter_draft(case) if actions["appeal"] else "",
        "update_form": forms.SendUpdateForm(),
        "sections": case_sections(),
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
        "now": timezone.now(),
        "today": timezone.localdate(),
    }


def _case_response(request, pk: int):
    """After an action: the fragments (htmx) or a redirect to the case page."""
    if request.htmx and not sees_clinical(request.user):
        # The fragments carry the clinical side; the scheduling page is reloaded whole instead.
        return HttpResponseClientRedirect(reverse("cases:detail", args=[pk]))
    if request.htmx:
        case = get_case_for_user(request, pk)
        return render(request, "cases/_case_refresh.html", _case_context(request, case))
    return redirect("cases:detail", pk=pk)


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
        actions.case_attest_summary(case=case, actor=request.user)
        return "Summary attested."

    return _act(request, pk, "attest", run)


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
    def run(case):
        data = _form_or_refuse(forms.OutcomeForm, request)
        actions.case_record_outcome(case=case, actor=request.user, **data)
        return "Payer outcome recorded."

    return _act(request, pk, "record_outcome", run)


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
def case_cancel(request, pk: int):
    def run(case):
        actions.case_cancel(case=case, actor=request.user, reason=_form_or_refuse(forms.ReasonForm, request)["reason"])
        return "Case cancelled."

    return _act(request, pk, "cancel", run)


@login_required
@require_POST
def case_appeal(request, pk: int):
    def run(case):
        case_file_appeal(case=case, actor=request.user, letter=_form_or_refuse(forms.AppealForm, request)["letter"])
        return "Appeal recorded; the letter is kept with the case's documents."

    return _act(request, pk, "appeal", run)


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


@login_required
@require_GET
def task_inbox(request):
    user = request.user
    scope = request.GET.get("scope", "mine")
    tasks = visible_tasks(user).open().select_related("case", "case__patient", "case__order", "case__payer", "assignee")
    if scope == "all" and user.has_role(Role.MANAGER):
        pass
    elif scope == "role":
        tasks = tasks.filter(assignee__isnull=True, role__in=list(user.role_names()))
    else:
        scope = "mine"
        tasks = tasks.for_user(user)
    tasks = tasks.order_by("due_at", "created_at", "pk")
    page = Paginator(tasks, PAGE_SIZE).get_page(request.GET.get("page"))
    rows = [(t, can_complete_task(user, t)) for t in page]
    access_log_cases(
        request=request, action=AccessLog.Action.VIEW, what="tasks", cases=[t.case for t, _ in rows], page=page.number
    )
    return render(
        request,
        "cases/tasks.html",
        {"page": page, "rows": rows, "scope": scope, "now": timezone.now(), "querystring": f"scope={scope}"},
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
    if note.cleaned_data["note"].strip():
        services.case_add_note(case=task.case, actor=request.user, text=note.cleaned_data["note"])
    services.task_complete(task=task, actor=request.user)
    messages.success(request, f"Done: {task.title}")
    if request.POST.get("from") == "case":
        return _case_response(request, task.case_id)
    if request.htmx:
        return render(request, "cases/_task_done.html", {"task": task})
    return redirect("cases:tasks")
