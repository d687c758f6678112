"""Writes for patient texting: the outbox, sending, delivery callbacks, inbound keywords, consent.

Exactly-once sending (see README "Patient messaging"):
1. A row is claimed under a row lock: state `sending`, `claimed_at` = now. Commit.
2. Twilio is called outside any transaction (a row lock is never held across HTTP).
3. The SID is saved. A row with a SID is never sent again.
If the process dies between 2 and 3 the row stays `sending` without a SID. After
`CLAIM_GRACE` (longer than the HTTP timeout, so the first worker is surely gone)
a retry re-claims it and first asks Twilio for a message to the same number with
the same body created since the claim (`Notifier.find_sent`); only if there is
none is it sent again. The status callback URL also carries the idempotency key,
so the first callback for a message whose SID was never saved attaches it.
"""

from __future__ import annotations

import datetime as dt
import logging
from datetime import timedelta
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from cases.models import CaseEvent, Patient, PriorAuthCase, Role, Status, Task
from cases.services import case_event_add, task_create
from integrations.base import IntegrationError, Notifier, SentMessage
from integrations.outbox import FAILED, Outbox, RetryPolicy, outbox_claim, outbox_due_ids, outbox_retry_or_fail
from integrations.sms_twilio.config import sms_config
from integrations.sms_twilio.models import (
    FINAL_STATES,
    STATE_RANK,
    ConsentEvent,
    DeliveryState,
    DeliveryStatusEvent,
    InboundMessage,
    OutboundMessage,
    PracticeSmsSettings,
    TemplateKind,
)
from integrations.sms_twilio.rendering import message_context, render_body, template_for, templates_seed_for_practice

log = logging.getLogger(__name__)

TRANSITION_TEMPLATES = {
    Status.APPROVED: TemplateKind.APPROVED,
    Status.PARTIALLY_APPROVED: TemplateKind.APPROVED,
    Status.PENDED: TemplateKind.INFO_NEEDED,
    Status.DENIED: TemplateKind.DENIED,
}
MAX_ATTEMPTS = 6
CLAIM_GRACE = timedelta(seconds=settings.SMS_CLAIM_GRACE_SECONDS)  # 2 min
TEXTS = Outbox(
    model=OutboundMessage,
    state_field="delivery_state",
    due_states=(DeliveryState.QUEUED,),
    sending_state=DeliveryState.SENDING,
    # A retry waits in the queue until its next_attempt_at.
    retry_state=DeliveryState.QUEUED,
    failed_state=DeliveryState.FAILED,
    # 1, 2, 4 … minutes, capped at an hour.
    policy=RetryPolicy(max_attempts=MAX_ATTEMPTS, base=timedelta(minutes=1), cap=timedelta(hours=1)),
)
STATUS_CALLBACK_PATH = "/integrations/twilio/status"

# Twilio's MessageStatus values → our delivery states.
TWILIO_STATES = {
    "accepted": DeliveryState.SENDING,
    "scheduled": DeliveryState.SENDING,
    "queued": DeliveryState.SENDING,
    "sending": DeliveryState.SENDING,
    "sent": DeliveryState.SENT,
    "delivered": DeliveryState.DELIVERED,
    "read": DeliveryState.DELIVERED,
    "undelivered": DeliveryState.UNDELIVERED,
    "failed": DeliveryState.FAILED,
    "canceled": DeliveryState.FAILED,
}

OPT_OUT_KEYWORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"})
OPT_IN_KEYWORDS = frozenset({"START", "UNSTOP"})
HELP_KEYWORDS = frozenset({"HELP", "INFO"})


# --- Quiet hours -------------------------------------------------------------------------------


def send_window_opens(*, practice, now: dt.datetime) -> dt.datetime | None:
    """None if `now` is inside the practice's texting window, else when it next opens."""
    settings_row = PracticeSmsSettings.objects.filter(practice=practice).first()
    start = settings_row.send_window_start if settings_row else dt.time(8, 0)
    end = settings_row.send_window_end if settings_row else dt.time(20, 0)
    zone = ZoneInfo(practice.time_zone or "America/New_York")
    local = now.astimezone(zone)
    if start <= local.time() < end:
        return None
    day = local.date() if local.time() < start else local.date() + timedelta(days=1)
    return dt.datetime.combine(day, start, tzinfo=zone)


# --- Outbox ------------------------------------------------------------------------------------


def _kind_label(kind: str) -> str:
    return TemplateKind(kind).label


def _why_not_textable(patient: Patient) -> str:
    if patient.sms_opted_out_at:
        return "patient opted out of texts"
    if not patient.sms_consent:
        return "no texting consent on file"
    if not patient.mobile_phone:
        return "no mobile number"
    return ""


def message_enqueue(*, case: PriorAuthCase, kind: str, event: CaseEvent | None = None, key: str = "", now=None):
    """Write the outbox row for one message to the case's patient (call inside the causing transaction).

    Idempotent per (case, event, template): a repeated call returns the existing
    row. Without consent nothing is queued; the timeline says why.
    """
    now = now or timezone.now()
    key = key or f"case:{case.pk}:event:{event.pk if event else '-'}:{kind}"
    existing = OutboundMessage.objects.filter(idempotency_key=key).first()
    if existing:
        return existing
    patient = case.patient
    reason = _why_not_textable(patient)
    if reason:
        text = f"{_kind_label(kind)} text not sent: {reason}"
        case_event_add(case=case, kind=CaseEvent.Kind.MESSAGE, message=text, template=kind)
        return None
    template = template_for(practice=case.practice, kind=kind, language=patient.preferred_language)
    if template is None:
        templates_seed_for_practice(practice=case.practice)
        template = template_for(practice=case.practice, kind=kind, language=patient.preferred_language)
    body = render_body(template.body, message_context(case=case))
    with transaction.atomic():
        message, created = OutboundMessage.objects.get_or_create(
            idempotency_key=key,
            defaults={
                "case": case,
                "patient": patient,
                "event": event,
                "template_kind": kind,
                "language": template.language,
                "body": body,
                "not_before": send_window_opens(practice=case.practice, now=now),
                "created_at": now,
            },
        )
    if created:
        held = ""
        if message.not_before:
            local = message.not_before.astimezone(ZoneInfo(case.practice.time_zone))
            held = f", held for quiet hours until {local:%b %-d %H:%M}"
        case_event_add(
            case=case,
            kind=CaseEvent.Kind.MESSAGE,
            message=f"{_kind_label(kind)} text queued{held}",
            outbound_message_id=message.pk,
            template=kind,
            delivery_state=message.delivery_state,
        )
    return message


def message_enqueue_for_transition(*, case, event, to_status) -> OutboundMessage | None:
    kind = TRANSITION_TEMPLATES.get(to_status)
    return message_enqueue(case=case, kind=kind, event=event) if kind else None


def _status_callback_url(message: OutboundMessage) -> str | None:
    base = sms_config().callback_url(STATUS_CALLBACK_PATH)
    return f"{base}?{urlencode({'ob': message.idempotency_key})}" if base else None


def message_send(*, message_id: int, notifier: Notifier | None = None, now=None) -> str:
    """Send one outbox row at most once. Returns what happened (for logs and tests)."""
    now = now or timezone.now()
    message = outbox_claim(
        TEXTS,
        message_id,
        now=now,
        queryset=OutboundMessage.objects.sendable(now).select_related("patient", "case__practice"),
        # Counted just before Twilio is called (`_check_before_send`): quiet hours are not an attempt.
        count_attempt=False,
        reclaim_after=CLAIM_GRACE,
    )
    if message is None:
        return _not_claimed(message_id, now)
    # A claim taken over from a dead worker: it may have reached Twilio.
    reconcile_since = message.abandoned_claim_at

    notifier = notifier or _notifier()
    if reconcile_since is not None:
        try:
            found = notifier.find_sent(to=message.patient.mobile_phone, body=message.body, since=reconcile_since)
        except IntegrationError:
            return "reconcile_failed"  # still claimed; retried after CLAIM_GRACE
        if found:
            _record_sent(message.pk, found, via=notifier.name, reconciled=True)
            return "reconciled"

    outcome = _check_before_send(message.pk, now)
    if outcome:
        return outcome
    try:
        result = notifier.send(
            to=message.patient.mobile_phone, body=message.body, status_callback=_status_callback_url(message)
        )
    except IntegrationError as exc:
        return _record_failure(message.pk, exc, now=now)
    _record_sent(message.pk, result, via=notifier.name)
    return "sent"


def _not_claimed(message_id: int, now) -> str:
    """Why the claim passed the row by (for logs and tests); read without a lock."""
    message = OutboundMessage.objects.filter(pk=message_id).first()
    if message is None:
        return "busy"
    if message.twilio_sid or message.delivery_state not in (DeliveryState.QUEUED, DeliveryState.SENDING):
        return "done"
    if message.delivery_state == DeliveryState.SENDING:
        return "in_flight"  # claimed less than CLAIM_GRACE ago, or being claimed again this moment
    if (message.not_before and message.not_before > now) or (message.next_attempt_at and message.next_attempt_at > now):
        return "not_due"
    return "busy"  # another worker holds the row lock


def _notifier() -> Notifier:
    from integrations.sms_twilio.notifiers import get_notifier

    return get_notifier()


def _check_before_send(message_id: int, now) -> str:
    """Consent and quiet hours, checked again just before sending; counts the attempt."""
    with transaction.atomic():
        message = (
            OutboundMessage.objects.select_for_update(of=("self",))
            .select_related("patient", "case__practice")
            .get(pk=message_id)
        )
        reason = _why_not_textable(message.patient)
        if reason:
            _finish(message, DeliveryState.CANCELLED, reason=reason)
            return "cancelled"
        opens = send_window_opens(practice=message.case.practice, now=now)
        if opens:
            # Quiet hours: put it back, never drop it.
            message.delivery_state = DeliveryState.QUEUED
            message.not_before = opens
            message.claimed_at = None
            message.save(update_fields=["delivery_state", "not_before", "claimed_at", "updated_at"])
            return "deferred"
        message.attempts += 1
        message.save(update_fields=["attempts", "updated_at"])
    return ""


def _record_sent(message_id: int, result: SentMessage, *, via: str, reconciled: bool = False) -> None:
    with transaction.atomic():
        message = OutboundMessage.objects.select_for_update(of=("self",)).select_related("case").get(pk=message_id)
        if message.twilio_sid and message.twilio_sid != result.sid:
            log.error("outbound message %s already has another SID; keeping it", message.pk)
            return
        message.twilio_sid = result.sid
        message.sent_at = message.sent_at or timezone.now()
        message.error_code = message.error_reason = ""
        message.next_attempt_at = None
        message.save(update_fields=["twilio_sid", "sent_at", "error_code", "error_reason", "next_attempt_at"])
        how = "found at Twilio after an interrupted send" if reconciled else f"handed to {via}"
        case_event_add(
            case=message.case,
            kind=CaseEvent.Kind.MESSAGE,
            message=f"{_kind_label(message.template_kind)} text {how}",
            outbound_message_id=message.pk,
            template=message.template_kind,
            delivery_state="sending",
        )
        # The state the provider reported, then any callbacks that arrived before
        # the SID was saved (Twilio can call back before our commit).
        states = [result.state, *DeliveryStatusEvent.objects.filter(sid=result.sid).values_list("state", flat=True)]
        DeliveryStatusEvent.objects.filter(sid=result.sid, message__isnull=True).update(message=message)
        for twilio_state in states:
            _advance(message, TWILIO_STATES.get(twilio_state, DeliveryState.SENDING))


def _record_failure(message_id: int, exc: IntegrationError, *, now) -> str:
    code = str(getattr(exc, "code", "") or "")
    with transaction.atomic():
        message = (
            OutboundMessage.objects.select_for_update(of=("self",)).select_related("case", "patient").get(pk=message_id)
        )
        message.error_code = code[:12]
        message.error_reason = str(exc)[:200]
        if outbox_retry_or_fail(TEXTS, message, permanent=exc.permanent, now=now) == FAILED:
            reason = str(exc) if exc.permanent else f"gave up after {message.attempts} attempts: {exc}"
            _finish(message, DeliveryState.FAILED, reason=reason, code=code)
            if code == "21610":
                patient_opt_out(patient=message.patient, source=ConsentEvent.Source.CARRIER)
            return "failed"
        message.claimed_at = None
        message.save(update_fields=[*TEXTS.fields, "claimed_at", "error_code", "error_reason", "updated_at"])
    return "retry"


def _finish(message: OutboundMessage, state: str, *, reason: str, code: str = "") -> None:
    """Put a row in a final state that was not a delivery; tell staff."""
    message.delivery_state = state
    message.error_reason = reason[:200]
    if code:
        message.error_code = code[:12]
    message.claimed_at = None
    message.save(update_fields=["delivery_state", "error_reason", "error_code", "claimed_at", "updated_at"])
    label = _kind_label(message.template_kind)
    verb = "not sent" if state == DeliveryState.CANCELLED else "failed"
    case_event_add(
        case=message.case,
        kind=CaseEvent.Kind.MESSAGE,
        message=f"{label} text {verb}: {reason}",
        outbound_message_id=message.pk,
        template=message.template_kind,
        delivery_state=state,
        error_code=code,
    )
    if state != DeliveryState.CANCELLED:
        _call_patient_task(message, reason)


def _call_patient_task(message: OutboundMessage, reason: str) -> None:
    task_create(
        case=message.case,
        kind=Task.Kind.CALL_PATIENT,
        title=f"Call the patient: {_kind_label(message.template_kind).lower()} text did not reach them",
        detail=reason,
        role=Role.COORDINATOR,
        due_at=timezone.now() + timedelta(days=1),
        dedupe_key=f"sms-failed-{message.pk}",
    )


def _advance(message: OutboundMessage, state: str, error_code: str = "") -> bool:
    """Move a row forward only: an older status arriving late changes nothing."""
    if STATE_RANK[state] <= STATE_RANK[message.delivery_state]:
        return False
    message.delivery_state = state
    fields = ["delivery_state", "updated_at"]
    if error_code:
        message.error_code = error_code[:12]
        message.error_reason = f"Twilio error {error_code}"
        fields += ["error_code", "error_reason"]
    message.save(update_fields=fields)
    if state in FINAL_STATES:
        label = _kind_label(message.template_kind)
        suffix = f" (Twilio error {error_code})" if error_code else ""
        case_event_add(
            case=message.case,
            kind=CaseEvent.Kind.MESSAGE,
            message=f"{label} text {DeliveryState(state).label.lower()}{suffix}",
            outbound_message_id=message.pk,
            template=message.template_kind,
            delivery_state=state,
            error_code=error_code,
        )
        if state in (DeliveryState.UNDELIVERED, DeliveryState.FAILED):
            _call_patient_task(message, f"Twilio reported {state}{suffix}")
    return True


def delivery_status_record(*, sid: str, reported: str, error_code: str = "", key: str = "") -> str:
    """Apply one (already signature-checked) status callback. Idempotent per (SID, status)."""
    reported = (reported or "").strip().lower()
    state = TWILIO_STATES.get(reported)
    if not sid or state is None:
        return "ignored"
    with transaction.atomic():
        message = (
            OutboundMessage.objects.select_for_update(of=("self",))
            .select_related("case")
            .filter(twilio_sid=sid)
            .first()
        )
        if message is None and key:
            # The send's result was never saved (crash): the key in our callback
            # URL says which row this SID belongs to.
            message = (
                OutboundMessage.objects.select_for_update(of=("self",))
                .select_related("case")
                .filter(idempotency_key=key, twilio_sid__isnull=True)
                .first()
            )
            if message is not None:
                message.twilio_sid = sid
                message.sent_at = message.sent_at or timezone.now()
                message.save(update_fields=["twilio_sid", "sent_at", "updated_at"])
        _, created = DeliveryStatusEvent.objects.get_or_create(
            sid=sid, state=reported, defaults={"message": message, "error_code": (error_code or "")[:12]}
        )
        if not created:
            return "duplicate"
        if message is None:
            return "unknown_sid"  # kept; applied when the send's result is saved
        return "applied" if _advance(message, state, error_code or "") else "stale"


def send_due_messages(*, now=None, limit: int = 100) -> list[int]:
    """Ids of rows to send now: due queued rows and stale claims (crashed sends)."""
    now = now or timezone.now()
    return outbox_due_ids(
        TEXTS, now=now, limit=limit, queryset=OutboundMessage.objects.sendable(now), reclaim_after=CLAIM_GRACE
    )


# --- Consent -----------------------------------------------------------------------------------


def patient_opt_out(*, patient: Patient, source: str, actor=None, keyword: str = "") -> bool:
    """Record an opt-out at once and stop every unsent text to the patient. False if already out."""
    now = timezone.now()
    with transaction.atomic():
        locked = Patient.objects.select_for_update().get(pk=patient.pk)
        already = locked.sms_opted_out_at is not None
        if not already:
            locked.sms_opted_out_at = now
            locked.save(update_fields=["sms_opted_out_at"])
        ConsentEvent.objects.create(
            patient=locked, action=ConsentEvent.Action.OPT_OUT, source=source, keyword=keyword, actor=actor
        )
        pending = (
            OutboundMessage.objects.select_for_update(of=("self",))
            .select_related("case")
            .filter(patient=locked, delivery_state=DeliveryState.QUEUED)
        )
        for message in pending:
            _finish(message, DeliveryState.CANCELLED, reason="patient opted out of texts")
    patient.sms_opted_out_at = locked.sms_opted_out_at
    return not already


def patient_opt_in(*, patient: Patient, source: str, actor=None, keyword: str = "") -> bool:
    """Clear an opt-out (START / UNSTOP). Consent on file is still required to text."""
    with transaction.atomic():
        locked = Patient.objects.select_for_update().get(pk=patient.pk)
        was_out = locked.sms_opted_out_at is not None
        locked.sms_opted_out_at = None
        locked.save(update_fields=["sms_opted_out_at"])
        ConsentEvent.objects.create(
            patient=locked, action=ConsentEvent.Action.OPT_IN, source=source, keyword=keyword, actor=actor
        )
    patient.sms_opted_out_at = None
    return was_out


def case_record_phone_opt_out(*, case: PriorAuthCase, actor) -> bool:
    """Staff heard the patient ask, by phone, for no more texts."""
    changed = patient_opt_out(patient=case.patient, source=ConsentEvent.Source.STAFF_PHONE, actor=actor)
    case_event_add(
        case=case, kind=CaseEvent.Kind.MESSAGE, actor=actor, message="Patient asked by phone for no more texts"
    )
    return changed


# --- Inbound -----------------------------------------------------------------------------------


def classify_keyword(body: str) -> tuple[str, str]:
    """(action, keyword) for an inbound text. Keywords match alone, in any case, spaces ignored."""
    word = (body or "").strip().upper()
    if word in OPT_OUT_KEYWORDS:
        return InboundMessage.Action.OPT_OUT, word
    if word in OPT_IN_KEYWORDS:
        return InboundMessage.Action.OPT_IN, word
    if word in HELP_KEYWORDS:
        return InboundMessage.Action.HELP, word
    return InboundMessage.Action.OTHER, ""


def inbound_record(*, message_sid: str, from_number: str, body: str) -> tuple[str, str]:
    """Handle one inbound text. Returns (action, reply text or "")."""
    action, keyword = classify_keyword(body)
    _, created = InboundMessage.objects.get_or_create(
        message_sid=message_sid, defaults={"from_number": from_number[:20], "keyword": keyword, "action": action}
    )
    patients = list(Patient.objects.filter(mobile_phone=from_number).select_related("practice"))
    if created and action == InboundMessage.Action.OPT_OUT:
        for patient in patients:
            patient_opt_out(patient=patient, source=ConsentEvent.Source.SMS, keyword=keyword)
    elif created and action == InboundMessage.Action.OPT_IN:
        for patient in patients:
            patient_opt_in(patient=patient, source=ConsentEvent.Source.SMS, keyword=keyword)
    if action == InboundMessage.Action.HELP:
        return action, help_reply(patients[0].practice if patients else None)
    return action, ""


def help_reply(practice) -> str:
    if practice is None:
        return "Prior authorization updates from your doctor's office. Please call your office. Reply STOP to opt out."
    phone = f" at {practice.phone}" if practice.phone else ""
    return f"{practice.name}: for help with your insurance request call us{phone}. Reply STOP to opt out."
