"""Payer notifications (rest-hook)."""

from __future__ import annotations

import hmac
import json

from django.contrib.auth.decorators import login_not_required
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from integrations.pas.subscriptions import notification_receive
from integrations.submission.models import PayerLink

# A Subscriptions Backport Bundle nests about eight levels; 64 leaves room and stops a
# hostile body from recursing through the reader.
MAX_DEPTH = 64


def _depth(value, limit: int = MAX_DEPTH + 1) -> int:
    """Nesting depth of parsed JSON, iteratively (no recursion), stopping at `limit`.

    A string holding a NUL counts as too deep: PostgreSQL cannot compare or store it,
    and no FHIR value contains one.
    """
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, level = stack.pop()
        deepest = max(deepest, level)
        if deepest >= limit:
            return deepest
        if isinstance(node, dict):
            stack.extend((k, level) for k in node)
            stack.extend((v, level + 1) for v in node.values())
        elif isinstance(node, list):
            stack.extend((v, level + 1) for v in node)
        elif isinstance(node, str) and "\x00" in node:
            return limit
    return deepest


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
    except (ValueError, RecursionError):
        # RecursionError: thousands of nested brackets; a notification is a few levels deep.
        return JsonResponse({"error": "body is not JSON"}, status=400)
    if not isinstance(payload, dict) or _depth(payload) > MAX_DEPTH:
        return JsonResponse(
            {"error": "a notification is a JSON object (a FHIR Bundle) of modest depth, without NUL characters"},
            status=400,
        )
    status, answer = notification_receive(payer_id=payer_id, payload=payload)
    return JsonResponse(answer, status=status)
