"""Twilio webhooks (signature-checked, no login) and the staff opt-out button."""

from __future__ import annotations

import logging
from xml.sax.saxutils import escape

from django.contrib import messages
from django.contrib.auth.decorators import login_not_required, login_required
from django.http import HttpResponse, HttpResponseBadRequest, HttpResponseForbidden
from django.shortcuts import redirect
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from twilio.request_validator import RequestValidator

from cases.permissions import get_case_for_user, require_role
from integrations.sms_twilio.config import sms_config
from integrations.sms_twilio.services import case_record_phone_opt_out, delivery_status_record, inbound_record

log = logging.getLogger(__name__)


def _signature_valid(request) -> bool:
    """Twilio signs the exact URL it called (with query string) plus the POST fields."""
    config = sms_config()
    signature = request.headers.get("X-Twilio-Signature", "")
    if not config.auth_token or not signature:
        return False
    # Behind a proxy Django sees an internal host/scheme; PUBLIC_BASE_URL is what Twilio used.
    if config.public_base_url:
        url = config.public_base_url + request.get_full_path()
    else:
        url = request.build_absolute_uri()
    return RequestValidator(config.auth_token).validate(url, request.POST, signature)


# Twilio SIDs are 34 characters; the columns hold 64. A longer one is not Twilio's.
MAX_SID = 64


def _sid_or_none(request) -> str | None:
    """The MessageSid, or None when the request cannot be Twilio's (over-long SID, a NUL in any field)."""
    sid = request.POST.get("MessageSid", "")
    if any("\x00" in value for values in request.POST.lists() for value in values[1]):
        return None  # PostgreSQL text cannot hold it; Twilio never sends it
    return sid if len(sid) <= MAX_SID else None


def _twiml(text: str = "") -> HttpResponse:
    inner = f"<Message>{escape(text)}</Message>" if text else ""
    body = f'<?xml version="1.0" encoding="UTF-8"?><Response>{inner}</Response>'
    return HttpResponse(body, content_type="text/xml")


@login_not_required
@csrf_exempt
@require_POST
def status_callback(request):
    if not _signature_valid(request):
        log.warning("twilio status callback with a bad signature rejected")
        return HttpResponseForbidden("invalid signature")
    if _sid_or_none(request) is None:
        return HttpResponseBadRequest("MessageSid is longer than a Twilio SID, or a field holds a NUL")
    outcome = delivery_status_record(
        sid=request.POST.get("MessageSid", ""),
        reported=request.POST.get("MessageStatus", ""),
        error_code=request.POST.get("ErrorCode", ""),
        key=request.GET.get("ob", ""),
    )
    log.info("twilio status callback: %s", outcome)
    return HttpResponse(status=204)


@login_not_required
@csrf_exempt
@require_POST
def inbound(request):
    if not _signature_valid(request):
        log.warning("twilio inbound message with a bad signature rejected")
        return HttpResponseForbidden("invalid signature")
    if _sid_or_none(request) is None:
        return HttpResponseBadRequest("MessageSid is longer than a Twilio SID, or a field holds a NUL")
    action, reply = inbound_record(
        message_sid=request.POST.get("MessageSid", ""),
        from_number=request.POST.get("From", ""),
        body=request.POST.get("Body", ""),
    )
    log.info("twilio inbound message: %s", action)
    return _twiml(reply)


@login_required
@require_POST
def case_phone_opt_out(request, pk: int):
    case = get_case_for_user(request, pk)
    require_role(request.user, "phone_opt_out")
    case_record_phone_opt_out(case=case, actor=request.user)
    messages.success(request, "Opt-out recorded: no more texts to this patient.")
    return redirect(case)
