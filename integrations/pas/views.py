"""Payer notifications (rest-hook) and the case page's submission fragment."""

from __future__ import annotations

import hmac
import json

from django.contrib.auth.decorators import login_not_required, login_required
from django.http import JsonResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from cases.permissions import get_case_for_user
from integrations.pas.models import PayerLink
from integrations.pas.subscriptions import notification_receive


@csrf_exempt
@login_not_required
@require_POST
def notify(request, payer_id: int):
    """A payer's notification (rest-hook): a Subscriptions Backport Bundle (handshake, heartbeat,
    event-notification) or an older payer's hint. Only a hint: we re-fetch with $inquire."""
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
    status, answer = notification_receive(payer_id=payer_id, payload=payload)
    return JsonResponse(answer, status=status)


@login_required
@require_GET
def case_submission(request, pk: int):
    case = get_case_for_user(request, pk)
    return render(request, "pas/_case_submission.html", {"case": case})
