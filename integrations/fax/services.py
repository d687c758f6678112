"""Faxing a submission, the fax service's reports, and faxes received. Keyword-only `<entity>_<action>`.

Outbound: the channel's `submit` keeps the packet as a document and writes the
`OutboundFax` row, then each dial is a `FaxAttempt` row before the service is
called; the service fetches the very bytes kept (`media_url` with the row's
token). The service reports by webhook: `fax_event_receive` verifies the
signature, stores each event once and moves a dial's status only forward, so
reports in any order, or twice, leave one final state. Delivered accepts the
submission (the case moves to submitted); busy, no answer or a dropped call
redials on a backoff; anything else, or the last dial failing, fails the
submission with the coordinator's task (the engine's `submission_fail`).

Inbound: a `fax.received` event stores the row at once (the vendor id is
unique, so a redelivered event stores nothing twice) and a task fetches the
PDF, reads its text and matches it (integrations.fax.matching).
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import subprocess
from datetime import timedelta

from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from cases.decisions import decision_apply, decision_from_answer
from cases.documents import document_store
from cases.models import CaseEvent, Document, PriorAuthCase, Role, Task
from cases.packet_pdf import PacketError, submission_packet_pdf
from cases.services import ActionRefused, case_event_add, task_create
from integrations.base import IntegrationError, SubmissionReceipt
from integrations.fax.backends import FaxJob, backend
from integrations.fax.config import INBOUND_MAX_BYTES, fax_config, verify_key
from integrations.fax.models import FaxAttempt, FaxWebhookEvent, InboundFax, OutboundFax
from integrations.fax.signature import SIGNATURE_HEADER, TIMESTAMP_HEADER, SignatureInvalid, signature_verify
from integrations.submission.models import Submission
from integrations.submission.services import submission_accept, submission_fail

log = logging.getLogger(__name__)

MAX_DIALS = 4
REDIAL_AFTER = (timedelta(minutes=5), timedelta(minutes=15), timedelta(minutes=45))
# Failures worth dialling again: the line was busy, nobody answered, the call broke off midway
# (pages lost). Anything else (not a fax line, invalid number, file refused) will not get better.
RETRYABLE = frozenset(
    {
        "user_busy",
        "receiver_no_answer",
        "receiver_no_response",
        "receiver_call_dropped",
        "sender_call_dropped",
        "carrier_lost",
        "service_unavailable",
        "fax_signaling_error",
        "receiver_communication_error",
        "sender_communication_error",
        "fax_initial_communication_timeout",
        "invalid_ecm_response_from_receiver",
        "receiver_recovery_on_timer_expire",
        "user_channel_limit_exceeded",
        "outbound_profile_channel_limit_exceeded",
        "connection_channel_limit_exceeded",
    }
)
EVENT_STATUS = {
    "fax.queued": FaxAttempt.Progress.QUEUED,
    "fax.media.processed": FaxAttempt.Progress.PROCESSED,
    "fax.sending.started": FaxAttempt.Progress.SENDING,
    "fax.delivered": FaxAttempt.Progress.DELIVERED,
    "fax.failed": FaxAttempt.Progress.FAILED,
}
# A dial's status only moves up this ladder; delivered and failed are both final.
RANK = {
    FaxAttempt.Progress.CREATED: 0,
    FaxAttempt.Progress.ERROR: 0,
    FaxAttempt.Progress.QUEUED: 1,
    FaxAttempt.Progress.PROCESSED: 2,
    FaxAttempt.Progress.SENDING: 3,
    FaxAttempt.Progress.DELIVERED: 4,
    FaxAttempt.Progress.FAILED: 4,
}
MEDIA_PATH = "/integrations/fax/media/{token}.pdf"
EVENTS_PATH = "/integrations/fax/events/"
PDFTOTEXT_TIMEOUT = 30
# Fewer letters than this in a fax's text layer: a scan, read by a person.
MIN_TEXT_CHARS = 20


class FaxEventUnknown(Exception):
    """An event about a fax we have no row for (yet): the service should deliver it again later."""


def e164(number: str) -> str:
    """A US fax number as E.164 (+1NXXNXXXXXX), or "" when it is not one."""
    digits = "".join(ch for ch in number or "" if ch.isdigit())
    if len(digits) == 10:
        digits = "1" + digits
    return f"+{digits}" if len(digits) == 11 and digits.startswith("1") else ""


# --- outbound -------------------------------------------------------------------------------------


def fax_send(*, case: PriorAuthCase, submission_key: str) -> OutboundFax:
    """Fax the case's packet for the submission `submission_key` (called from the send task).

    The row and the kept PDF come first; a retry of the task finds them and dials
    again only if the last dial never reached the service. Raises IntegrationError.
    """
    submission = Submission.objects.get(idempotency_key=submission_key)
    outbound = OutboundFax.objects.filter(submission=submission).first()
    if outbound is None:
        to = e164(case.payer.fax)
        if not to:
            raise IntegrationError(
                f"{case.payer} has no usable fax number on file ({case.payer.fax or 'none'}).", permanent=True
            )
        try:
            packet = submission_packet_pdf(case)
        except PacketError as exc:
            raise IntegrationError(str(exc), permanent=True) from exc
        with transaction.atomic():
            document = document_store(
                case=case,
                actor=None,
                kind=Document.Kind.SUBMISSION_PACKET,
                title=f"Submission packet as faxed, {timezone.localdate():%m/%d/%Y} ({packet.page_count} pages)",
                content=packet.content,
                content_type="application/pdf",
                name="packet.pdf",
                message=f"Submission packet kept as faxed to {case.payer} ({packet.page_count} pages)",
                pages=packet.page_count,
            )
            outbound = OutboundFax.objects.create(
                submission=submission,
                case=case,
                document=document,
                pages=packet.page_count,
                to_number=to,
                from_number=fax_config().from_number or e164(case.practice.fax),
            )
    last = outbound.dials.order_by("-number").first()
    if last is not None and last.progress != FaxAttempt.Progress.ERROR:
        return outbound  # the service has it (or a dial whose answer was lost: never dial twice blind)
    fax_dial(outbound=outbound)
    return outbound


def fax_dial(*, outbound: OutboundFax) -> FaxAttempt:
    """One dial: the attempt row first, then the service. Raises IntegrationError when it is refused."""
    config = fax_config()
    with transaction.atomic():
        locked = OutboundFax.objects.select_for_update().get(pk=outbound.pk)
        locked.attempts += 1
        locked.state = OutboundFax.State.DIALING
        locked.next_attempt_at = None
        locked.save(update_fields=["attempts", "state", "next_attempt_at"])
        attempt = FaxAttempt.objects.create(outbound=locked, number=locked.attempts)
    job = FaxJob(
        to=locked.to_number,
        from_=locked.from_number,
        media_url=config.url(MEDIA_PATH.format(token=locked.media_token)),
        client_state=f"fax-attempt-{attempt.pk}",
        webhook_url=config.url(EVENTS_PATH),
    )
    try:
        vendor_id = backend().send(job)
    except IntegrationError as exc:
        FaxAttempt.objects.filter(pk=attempt.pk).update(
            progress=FaxAttempt.Progress.ERROR, error=str(exc)[:2000], updated_at=timezone.now()
        )
        raise
    FaxAttempt.objects.filter(pk=attempt.pk, vendor_fax_id__isnull=True).update(
        vendor_fax_id=vendor_id, progress=FaxAttempt.Progress.QUEUED, updated_at=timezone.now()
    )
    attempt.refresh_from_db()
    return attempt


def fax_redial_due(*, now=None) -> int:
    """Scheduled every minute: redial faxes whose backoff is over. Claimed with skip_locked."""
    now = now or timezone.now()
    with transaction.atomic():
        ids = list(
            OutboundFax.objects.select_for_update(skip_locked=True)
            .filter(state=OutboundFax.State.RETRY, next_attempt_at__lte=now)
            .values_list("pk", flat=True)[:50]
        )
        OutboundFax.objects.filter(pk__in=ids).update(state=OutboundFax.State.DIALING)
    for pk in ids:
        outbound = OutboundFax.objects.select_related("case", "submission").get(pk=pk)
        try:
            fax_dial(outbound=outbound)
        except IntegrationError as exc:
            _dial_failed(outbound, str(exc), retryable=not exc.permanent)
    return len(ids)


def fax_event_receive(*, body: bytes, headers) -> str:
    """Verify and apply one webhook from the fax service. Raises SignatureInvalid (nothing changed)
    or FaxEventUnknown (nothing changed: the service should send it again)."""
    signature_verify(
        body=body,
        signature=headers.get(SIGNATURE_HEADER, ""),
        timestamp=headers.get(TIMESTAMP_HEADER, ""),
        public_key_b64=verify_key(fax_config()),
    )
    try:
        data = json.loads(body)["data"]
        event_id, event_type, payload = str(data["id"]), str(data["event_type"]), dict(data.get("payload") or {})
    except (ValueError, KeyError, TypeError) as exc:
        raise SignatureInvalid("signed, but not an event") from exc
    occurred = parse_datetime(str(data.get("occurred_at") or "")) if data.get("occurred_at") else None
    with transaction.atomic():
        event, created = FaxWebhookEvent.objects.get_or_create(
            event_id=event_id,
            defaults={
                "event_type": event_type[:40],
                "vendor_fax_id": str(payload.get("fax_id", ""))[:64],
                "occurred_at": occurred,
            },
        )
        if not created:
            return "duplicate event"
        if event_type == "fax.received":
            outcome = inbound_receive(payload=payload)
        elif event_type in EVENT_STATUS:
            outcome = _outbound_status(payload=payload, status=EVENT_STATUS[event_type])
        else:
            outcome = "ignored"
        event.outcome = outcome[:120]
        event.save(update_fields=["outcome"])
    return outcome


def _outbound_status(*, payload: dict, status: str) -> str:
    fax_id = str(payload.get("fax_id", ""))
    attempt = FaxAttempt.objects.filter(vendor_fax_id=fax_id).first() if fax_id else None
    if attempt is None:
        raise FaxEventUnknown(f"no outbound fax {fax_id!r}")
    outbound = (
        OutboundFax.objects.select_for_update(of=("self",)).select_related("case__payer").get(pk=attempt.outbound_id)
    )
    attempt = FaxAttempt.objects.select_for_update().get(pk=attempt.pk)
    if RANK[status] <= RANK[attempt.progress]:
        return f"stale {status} (dial is {attempt.progress})"
    attempt.progress = status
    attempt.failure_reason = str(payload.get("failure_reason") or "")[:80]
    attempt.updated_at = timezone.now()
    attempt.save(update_fields=["progress", "failure_reason", "updated_at"])
    final = status in (FaxAttempt.Progress.DELIVERED, FaxAttempt.Progress.FAILED)
    if not final:
        return status
    if attempt.number != outbound.attempts or outbound.state != OutboundFax.State.DIALING:
        return f"{status} of an earlier dial"
    case = outbound.case
    if status == FaxAttempt.Progress.DELIVERED:
        outbound.state = OutboundFax.State.DELIVERED
        outbound.delivered_at = timezone.now()
        outbound.pages_sent = _int(payload.get("page_count"))
        outbound.call_seconds = _int(payload.get("call_duration_secs"))
        outbound.remote_number = str(payload.get("to") or outbound.to_number)[:20]
        outbound.save(update_fields=["state", "delivered_at", "pages_sent", "call_seconds", "remote_number"])
        case_event_add(
            case=case,
            kind=CaseEvent.Kind.SUBMISSION,
            message=f"Fax delivered to {case.payer} at {outbound.remote_number}: "
            f"{outbound.pages_sent if outbound.pages_sent is not None else '?'} of {outbound.pages} pages"
            f" (dial {attempt.number})",
            submission_id=outbound.submission_id,
            fax_id=fax_id,
            document_id=outbound.document_id,
        )
        submission_accept(submission=outbound.submission, receipt=SubmissionReceipt(tracking_id=f"fax {fax_id}"))
        return "delivered"
    reason = attempt.failure_reason or "unknown"
    _dial_failed(outbound, reason, retryable=reason in RETRYABLE)
    return f"failed: {reason}"


def _dial_failed(outbound: OutboundFax, reason: str, *, retryable: bool) -> None:
    with transaction.atomic():
        outbound = (
            OutboundFax.objects.select_for_update(of=("self",))
            .select_related("case__payer", "submission")
            .get(pk=outbound.pk)
        )
        case = outbound.case
        outbound.failure_reason = reason[:80]
        if retryable and outbound.attempts < MAX_DIALS:
            wait = REDIAL_AFTER[min(outbound.attempts, len(REDIAL_AFTER)) - 1]
            outbound.state = OutboundFax.State.RETRY
            outbound.next_attempt_at = timezone.now() + wait
            outbound.save(update_fields=["state", "next_attempt_at", "failure_reason"])
            case_event_add(
                case=case,
                kind=CaseEvent.Kind.SUBMISSION,
                message=f"Fax to {case.payer} did not go through ({reason}, dial {outbound.attempts} of "
                f"{MAX_DIALS}): redial at {timezone.localtime(outbound.next_attempt_at):%H:%M}",
                submission_id=outbound.submission_id,
            )
            return
        outbound.state = OutboundFax.State.FAILED
        outbound.save(update_fields=["state", "failure_reason"])
        submission_fail(
            submission=outbound.submission,
            error=IntegrationError(
                f"Fax to {case.payer} at {outbound.to_number} failed after {outbound.attempts} dial(s): {reason}",
                permanent=True,
            ),
        )


def _int(value):
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


# --- inbound --------------------------------------------------------------------------------------


def practice_for_number(number: str):
    """The practice whose fax line received it; with one practice on the installation, that one."""
    from cases.models import Practice

    wanted = e164(number)
    practices = list(Practice.objects.all()[:500])
    for practice in practices:
        if wanted and e164(practice.fax) == wanted:
            return practice
    return practices[0] if len(practices) == 1 else None


def inbound_receive(*, payload: dict) -> str:
    """Store a received fax's row (once per vendor id) and fetch its pages after commit."""
    fax_id = str(payload.get("fax_id", ""))[:64]
    if not fax_id:
        return "received without a fax id"
    fax, created = InboundFax.objects.get_or_create(
        vendor_fax_id=fax_id,
        defaults={
            "practice": practice_for_number(str(payload.get("to", ""))),
            "from_number": str(payload.get("from", ""))[:32],
            "to_number": str(payload.get("to", ""))[:32],
            "media_url": str(payload.get("media_url", ""))[:1000],
            "reported_pages": _int(payload.get("page_count")),
            "partial": bool(payload.get("partial_content")),
        },
    )
    if not created:
        return "duplicate fax"
    fax_pk = fax.pk
    transaction.on_commit(lambda: _enqueue("integrations.fax.tasks.inbound_fetch", fax_pk))
    return "received"


def _enqueue(func: str, *args) -> None:
    from django_q.tasks import async_task

    async_task(func, *args)


def inbound_fetch(*, fax_id: int) -> InboundFax:
    """Fetch the pages of a received fax, check them, read the text and match it to a case."""
    from integrations.fax.matching import match_case

    fax = InboundFax.objects.get(pk=fax_id)
    if fax.state != InboundFax.State.RECEIVED:
        return fax
    InboundFax.objects.filter(pk=fax.pk).update(fetch_attempts=fax.fetch_attempts + 1)
    try:
        content = backend().fetch_media(fax.media_url)
    except IntegrationError as exc:
        # Still RECEIVED (fetched again by the schedule) unless it can never work; either way a person sees it.
        gave_up = exc.permanent or fax.fetch_attempts + 1 >= 5
        InboundFax.objects.filter(pk=fax.pk).update(
            error=str(exc)[:300], state=InboundFax.State.ERROR if gave_up else InboundFax.State.RECEIVED
        )
        fax.refresh_from_db()
        return fax
    fax.size_bytes = len(content)
    fax.sha256 = hashlib.sha256(content).hexdigest()
    if len(content) > INBOUND_MAX_BYTES or not content.startswith(b"%PDF-"):
        fax.state = InboundFax.State.ERROR
        fax.error = "not a PDF" if len(content) <= INBOUND_MAX_BYTES else "larger than the limit"
        if len(content) <= INBOUND_MAX_BYTES:
            fax.file.save("fax.bin", ContentFile(content), save=False)  # kept for a person, never lost
        fax.save()
        return fax
    fax.file.save("fax.pdf", ContentFile(content), save=False)
    text = pdf_text(content)
    letters = sum(ch.isalnum() for ch in text)
    fax.text = text[:100_000]
    fax.text_state = InboundFax.Text.READ if letters >= MIN_TEXT_CHARS else InboundFax.Text.NONE
    fax.state = InboundFax.State.INBOX
    if fax.text_state == InboundFax.Text.NONE:
        fax.match_note = "No text in the fax (a scanned image): read it and file it to its case."
        fax.save()
        return fax
    fax.save()
    if fax.practice_id is None:
        InboundFax.objects.filter(pk=fax.pk).update(match_note="Received on a number no practice has.")
        fax.refresh_from_db()
        return fax
    case, matched_by, note = match_case(practice=fax.practice, text=text)
    if case is None:
        InboundFax.objects.filter(pk=fax.pk).update(match_note=note[:300])
        fax.refresh_from_db()
        return fax
    return inbound_file(fax=fax, case=case, actor=None, matched_by=matched_by)


def pdf_text(content: bytes) -> str:
    """The PDF's text layer (poppler's pdftotext). A scan has none: no OCR, nothing guessed."""
    try:
        result = subprocess.run(  # noqa: S603 - a fixed program; the PDF goes in on stdin, never as an argument
            [shutil.which("pdftotext") or "/usr/bin/pdftotext", "-layout", "-q", "-", "-"],
            input=content,
            capture_output=True,
            timeout=PDFTOTEXT_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        log.warning("pdftotext failed: %s", type(exc).__name__)
        return ""
    return result.stdout.decode("utf-8", errors="replace")


def inbound_file(*, fax: InboundFax, case: PriorAuthCase, actor, matched_by: str) -> InboundFax:
    """Attach a received fax to `case`: its document, a timeline line and the task to record what it says."""
    with transaction.atomic():
        locked = InboundFax.objects.select_for_update().get(pk=fax.pk)
        if locked.state != InboundFax.State.INBOX:
            raise ActionRefused("Only a fax waiting in the inbox can be filed (this one is filed, or not a PDF).")
        if case.practice_id != locked.practice_id:
            raise ActionRefused("That case is not in this fax's practice.")
        with locked.file.open("rb") as fh:
            content = fh.read()
        when = timezone.localtime(locked.received_at)
        how = InboundFax.MatchedBy(matched_by).label.lower()
        document = document_store(
            case=case,
            actor=actor,
            kind=Document.Kind.PAYER_LETTER,
            title=f"Fax received {when:%m/%d/%Y %H:%M} from {locked.from_number or 'unknown number'}",
            content=content,
            content_type="application/pdf",
            name="fax.pdf",
            source=Document.Source.PAYER,
            message=f"Payer fax received and filed ({how})",
            inbound_fax_id=locked.pk,
        )
        locked.case = case
        locked.document = document
        locked.matched_by = matched_by
        locked.state = InboundFax.State.FILED
        locked.filed_by = actor
        locked.filed_at = timezone.now()
        locked.save(update_fields=["case", "document", "matched_by", "state", "filed_by", "filed_at"])
        task_create(
            case=case,
            kind=Task.Kind.RECORD_OUTCOME,
            title="Payer fax received: record what it says",
            detail=f"A fax from {locked.from_number or 'the payer'} received {when:%m/%d/%Y %H:%M} is filed with "
            "the case's documents. Open it from the fax inbox and record the decision or the payer's request.",
            assignee=case.assignee,
            role="" if case.assignee_id else Role.COORDINATOR,
            due_at=timezone.now() + timedelta(hours=4),
            dedupe_key=f"fax-in-{locked.pk}",
        )
    return locked


def inbound_record(*, fax: InboundFax, actor, outcome: str, note: str = "", **answer) -> CaseEvent:
    """What a filed fax says, recorded by a person: the payer's decision (or request for more
    information: outcome pended, the request in `note`), through `decision_apply` like every answer."""
    import dataclasses

    if fax.case_id is None or fax.state not in (InboundFax.State.FILED, InboundFax.State.RECORDED):
        raise ActionRefused("File the fax to its case first.")
    decision = dataclasses.replace(
        decision_from_answer(outcome=outcome, note=note, **answer), raw_reference=f"fax.InboundFax/{fax.pk}"
    )
    case = PriorAuthCase.objects.get(pk=fax.case_id)
    event = decision_apply(case=case, decision=decision, source="manual", actor=actor, note="")
    if event is None:
        case.refresh_from_db()
        raise ActionRefused(
            f"The case is '{case.get_status_display()}': that answer does not change it. Check the case page."
        )
    with transaction.atomic():
        InboundFax.objects.filter(pk=fax.pk).update(state=InboundFax.State.RECORDED)
        Task.objects.filter(case=case, dedupe_key=f"fax-in-{fax.pk}", done_at__isnull=True).update(
            done_at=timezone.now(), done_by=actor
        )
    return event


def inbound_fetch_due() -> int:
    """Scheduled with the redials: received faxes whose fetch failed for a passing reason."""
    ids = list(
        InboundFax.objects.filter(
            state=InboundFax.State.RECEIVED, received_at__lt=timezone.now() - timedelta(minutes=1)
        ).values_list("pk", flat=True)[:50]
    )
    for pk in ids:
        inbound_fetch(fax_id=pk)
    return len(ids)
