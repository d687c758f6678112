"""The fax service's webhook and media fetch (no login; signature / unguessable token), and the
inbound fax inbox for coordinators and managers of the practice."""

from __future__ import annotations

import logging
from datetime import datetime

from django.contrib import messages
from django.contrib.auth.decorators import login_not_required, login_required
from django.db.models import Q
from django.http import FileResponse, Http404, HttpResponse, HttpResponseForbidden
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from cases.audit.models import AccessLog
from cases.audit.services import access_log_cases
from cases.models import PriorAuthCase
from cases.permissions import require_role
from cases.reference import case_ids_in
from cases.services import ActionRefused
from integrations.fax.forms import CaseSearchForm, FaxOutcomeForm, FileForm
from integrations.fax.models import InboundFax, OutboundFax
from integrations.fax.services import FaxEventUnknown, fax_event_receive, inbound_file, inbound_record
from integrations.fax.signature import SignatureInvalid

log = logging.getLogger(__name__)
INBOX_STATES = (InboundFax.State.INBOX, InboundFax.State.ERROR, InboundFax.State.FILED, InboundFax.State.RECEIVED)


@login_not_required
@csrf_exempt
@require_POST
def events(request):
    try:
        outcome = fax_event_receive(body=request.body, headers=request.headers)
    except SignatureInvalid:
        log.warning("fax webhook with a bad signature rejected")
        return HttpResponseForbidden("invalid signature")
    except FaxEventUnknown:
        # Not committed yet on our side (or not ours): a non-2xx makes the service deliver it again.
        return HttpResponse("unknown fax", status=404)
    log.info("fax webhook: %s", outcome)
    return HttpResponse(status=204)


@login_not_required
@require_GET
def media(request, token: str):
    """The packet for the fax service to fetch: only while it is being sent."""
    outbound = (
        OutboundFax.objects.filter(media_token=token, state__in=[OutboundFax.State.DIALING, OutboundFax.State.RETRY])
        .select_related("document")
        .first()
    )
    if outbound is None:
        raise Http404
    return FileResponse(outbound.document.file.open("rb"), content_type="application/pdf", filename="fax.pdf")


def _get_fax_for_user(request, pk: int) -> InboundFax:
    """Coordinators and managers (403 for other roles), of the fax's practice (404 elsewhere)."""
    require_role(request.user, "record_outcome")
    return get_object_or_404(
        InboundFax.objects.select_related("case__patient"), pk=pk, practice_id=request.user.practice_id
    )


@login_required
@require_GET
def inbox(request):
    require_role(request.user, "record_outcome")
    # One query: the faxes with their case and patient.
    faxes = (
        InboundFax.objects.filter(practice_id=request.user.practice_id, state__in=INBOX_STATES)
        .select_related("case__patient")
        .order_by("state", "-received_at")[:200]
    )
    faxes = list(faxes)
    matched = [fax.case for fax in faxes if fax.case_id]
    access_log_cases(request=request, action=AccessLog.Action.VIEW, what="fax inbox", cases=matched, faxes=len(faxes))
    return render(request, "fax/inbox.html", {"faxes": faxes})


def _search(user, q: str):
    q = q.strip()
    if not q:
        return []
    match = Q(patient__last_name__icontains=q) | Q(patient__first_name__icontains=q) | Q(patient__mrn__iexact=q)
    match |= Q(patient__coverages__member_id__iexact=q) | Q(authorization_number__iexact=q)
    match |= Q(payer_tracking_id__iexact=q) | Q(pk__in=case_ids_in(q))
    for fmt in ("%m/%d/%Y", "%Y-%m-%d"):
        try:
            match |= Q(patient__birth_date=datetime.strptime(q, fmt).date())
        except ValueError:
            pass
    if q.isdigit():
        match |= Q(pk=int(q))
    cases = PriorAuthCase.objects.visible_to(user).filter(match).select_related("patient", "payer", "order")
    return list(cases.distinct().order_by("-created_at")[:25])


@login_required
@require_http_methods(["GET", "POST"])
def detail(request, pk: int):
    fax = _get_fax_for_user(request, pk)
    # The search (a name, birth date or MRN) is posted: search words never go into a URL.
    form = CaseSearchForm(request.POST if request.method == "POST" else None)
    results = _search(request.user, form.cleaned_data["q"]) if form.is_valid() else []
    outcome_form = FaxOutcomeForm() if fax.case_id else None
    shown = ([fax.case] if fax.case_id else []) + results
    access_log_cases(
        request=request,
        action=AccessLog.Action.SEARCH if results else AccessLog.Action.VIEW,
        what="inbound fax",
        cases=shown,
        fax_id=fax.pk,
    )
    return render(
        request, "fax/detail.html", {"fax": fax, "form": form, "results": results, "outcome_form": outcome_form}
    )


@login_required
@require_GET
@xframe_options_sameorigin  # shown in the fax page's frame; still refused to other sites
def pdf(request, pk: int):
    fax = _get_fax_for_user(request, pk)
    if not fax.file:
        raise Http404
    log.info("inbound fax %s viewed by user %s", fax.pk, request.user.pk)
    access_log_cases(
        request=request,
        action=AccessLog.Action.DOWNLOAD,
        what="inbound fax PDF",
        cases=[fax.case] if fax.case_id else [],
        fax_id=fax.pk,
    )
    return FileResponse(fax.file.open("rb"), content_type="application/pdf", filename=f"fax-{fax.pk}.pdf")


@login_required
@require_POST
def file_to_case(request, pk: int):
    fax = _get_fax_for_user(request, pk)
    form = FileForm(request.POST)
    if not form.is_valid():
        raise Http404
    case = get_object_or_404(PriorAuthCase.objects.visible_to(request.user), pk=form.cleaned_data["case"])
    try:
        inbound_file(fax=fax, case=case, actor=request.user, matched_by=InboundFax.MatchedBy.STAFF)
    except ActionRefused as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Filed to case {case.pk}. Now record what the fax says.")
    return redirect("fax:detail", pk=fax.pk)


@login_required
@require_POST
def record(request, pk: int):
    fax = _get_fax_for_user(request, pk)
    form = FaxOutcomeForm(request.POST)
    if not form.is_valid():
        return render(
            request,
            "fax/detail.html",
            {"fax": fax, "form": CaseSearchForm(), "results": [], "outcome_form": form},
            status=400,
        )
    try:
        inbound_record(fax=fax, actor=request.user, **form.cleaned_data)
    except ActionRefused as exc:
        messages.error(request, str(exc))
        return redirect("fax:detail", pk=fax.pk)
    messages.success(request, "The payer's answer is recorded on the case.")
    return redirect("cases:detail", pk=fax.case_id)
