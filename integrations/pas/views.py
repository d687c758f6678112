"""Payer notifications (rest-hook) and the case page's submission fragment."""

from __future__ import annotations

import hmac
import json

from django.contrib.auth.decorators import login_not_required, login_required
from django.db import transaction
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from cases.models import CaseEvent, PriorAuthCase
from cases.services import case_event_add
from integrations.pas.models import PayerLink, Submission
from integrations.pas.services import AWAITING


def _strings(node, out: set[str], depth: int = 0) -> set[str]:
    if depth > 12:
        return out
    if isinstance(node, dict):
        for v in node.values():
            _strings(v, out, depth + 1)
    elif isinstance(node, list):
        for v in node[:200]:
            _strings(v, out, depth + 1)
    elif isinstance(node, str) and 0 < len(node) <= 120:
        out.add(node)
    return out


@csrf_exempt
@login_not_required
@require_POST
def notify(request, payer_id: int):
    """A payer's notification (rest-hook). It is only a hint: we re-fetch with $inquire before acting."""
    link = PayerLink.objects.filter(payer_id=payer_id).exclude(notify_secret="").first()
    given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    # Constant-time compare; an unknown payer and a wrong secret look the same.
    expected = link.notify_secret if link else "no-secret-configured"
    if not hmac.compare_digest(given.encode(), expected.encode()) or link is None:
        return JsonResponse({"error": "unauthorized"}, status=401)
    try:
        payload = json.loads(request.body or b"{}")
    except ValueError:
        return JsonResponse({"error": "body is not JSON"}, status=400)
    # Any identifier in the payload that names one of our requests or the payer's tracking id.
    values = _strings(payload, set())
    case_ids = set(
        Submission.objects.filter(idempotency_key__in=values, case__payer_id=payer_id).values_list("case_id", flat=True)
    )
    case_ids |= set(
        PriorAuthCase.objects.filter(payer_id=payer_id, payer_tracking_id__in=values).values_list("pk", flat=True)
    )
    woken = []
    with transaction.atomic():
        for case in PriorAuthCase.objects.filter(pk__in=case_ids, status__in=AWAITING):
            PriorAuthCase.objects.filter(pk=case.pk).update(next_poll_at=timezone.now())
            case_event_add(case=case, kind=CaseEvent.Kind.PAYER, message="Payer notification received: checking status")
            woken.append(case.pk)
        transaction.on_commit(lambda: _enqueue_polls(woken))
    return JsonResponse({"accepted": len(woken)}, status=202)


def _enqueue_polls(case_ids: list[int]) -> None:
    from django_q.tasks import async_task

    for pk in case_ids:
        async_task("integrations.pas.tasks.poll_case", pk)


@login_required
@require_GET
def case_submission(request, pk: int):
    case = get_object_or_404(PriorAuthCase.objects.visible_to(request.user).select_related("payer"), pk=pk)
    return render(request, "pas/_case_submission.html", {"case": case})
