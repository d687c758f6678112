"""Submitting cases, polling payers and applying their decisions. Keyword-only `<entity>_<action>`.

The web request only records intent (`submission_request`); the payer is
called from background tasks (`submission_send`, `case_poll`). A decision is
applied under the case's row lock, at most once (`decision_apply`).
"""

from __future__ import annotations

import logging
import random
from datetime import timedelta
from decimal import Decimal

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from cases.models import CaseEvent, PriorAuthCase, Role, Status, Task
from cases.services import case_event_add, task_create
from cases.transitions import can_transition, transition
from integrations.base import DecisionStatus, IntegrationError, PayerDecision, SubmissionReceipt
from integrations.pas.models import CaseTracking, PayerLink, Submission
from integrations.pas.parse import PasResponseError
from integrations.pas.subscriptions import subscription_wanted
from integrations.registry import channel_name_for, get_channel, has_channel

log = logging.getLogger(__name__)

SUBMIT_MAX_ATTEMPTS = 6
# A claimed case is not claimed again for this long; the poll task sets the real next time.
POLL_LEASE = timedelta(minutes=10)
# A SENDING submission older than this was abandoned by a dead worker (> HTTP timeouts + task timeout).
SENDING_STALE_AFTER = timedelta(minutes=5)
BACKOFF_BASE = timedelta(minutes=1)
BACKOFF_CAP = timedelta(hours=2)
BREAKER_THRESHOLD = 5  # consecutive transient failures that open a payer's breaker
BREAKER_COOLDOWN_CAP = timedelta(minutes=30)
AWAITING = (Status.SUBMITTED, Status.PENDED, Status.APPEALED)


class SubmissionRefused(Exception):
    """The case cannot be submitted now; the message says why (shown to staff)."""


# --- submitting -----------------------------------------------------------------------------------

IN_FLIGHT = (Submission.State.QUEUED, Submission.State.SENDING, Submission.State.RETRY)
WITHDRAWN = "Withdrawn: the case was cancelled before it was sent"
# How each kind of submission is named on the timeline.
SAID = {
    Submission.Kind.REQUEST: "Submission",
    Submission.Kind.UPDATE: "Sending the additional information",
    Submission.Kind.CANCEL: "Cancellation",
}
# A cancellation waits this long while a request to the same payer is on the wire.
CANCEL_WAIT = timedelta(seconds=30)


def submission_request(*, case: PriorAuthCase, actor, message: str = "") -> Submission:
    """Record that `case` is to be submitted and send it in the background after commit.

    A ready case is submitted; a pended one is answered with a PAS Claim Update
    of the last request the payer received (`replaces_key`), carrying what was
    added since and staff's `message`.

    Idempotent under concurrency: the case row is locked, so a double click or
    two staff at once see the first request's in-flight row and get it back;
    the key (`case-<id>-sub-<n>`) is unique as a last line of defence.
    """
    with transaction.atomic():
        locked = PriorAuthCase.objects.select_for_update(of=("self",)).select_related("payer", "rule").get(pk=case.pk)
        in_flight = locked.submissions.exclude(kind=Submission.Kind.CANCEL).filter(state__in=IN_FLIGHT).first()
        if in_flight is not None:
            return in_flight
        if locked.status not in (Status.READY, Status.PENDED):
            raise SubmissionRefused(f"A case that is '{locked.get_status_display()}' cannot be submitted.")
        if locked.payer_id is None:
            raise SubmissionRefused("The case has no payer.")
        channel = channel_name_for(locked)
        if not has_channel(channel):
            raise SubmissionRefused(f"{locked.payer} takes requests by {channel or 'no channel'}: submit by hand.")
        update = locked.status == Status.PENDED
        sequence = locked.submissions.count() + 1
        submission = Submission.objects.create(
            case=locked,
            channel=channel,
            idempotency_key=f"case-{locked.pk}-sub-{sequence}",
            requested_by=actor,
            kind=Submission.Kind.UPDATE if update else Submission.Kind.REQUEST,
            replaces_key=last_sent_key(locked) if update else "",
            message=message.strip() if update else "",
        )
        if update:
            said = (
                f"Sending additional information to {locked.payer} "
                f"({channel.upper()}, updates {submission.replaces_key})"
            )
        else:
            said = f"Submission requested ({channel.upper()})"
        case_event_add(
            case=locked, kind=CaseEvent.Kind.SUBMISSION, actor=actor, message=said, submission_id=submission.pk
        )
        submission_id = submission.pk
        transaction.on_commit(lambda: _enqueue("integrations.pas.tasks.submit", submission_id))
    return submission


def last_accepted(case: PriorAuthCase) -> Submission | None:
    """The newest request or update the payer acknowledged: what polls and updates refer to."""
    return (
        case.submissions.filter(state=Submission.State.ACCEPTED)
        .exclude(kind=Submission.Kind.CANCEL)
        .order_by("-accepted_at", "-id")
        .first()
    )


def last_sent_key(case: PriorAuthCase) -> str:
    """The identifier of the request the payer has now; a case submitted without a row
    (before tracking, or by the demo seed) is known to the payer as `case-<id>`."""
    submission = last_accepted(case)
    return submission.idempotency_key if submission else f"case-{case.pk}"


def _enqueue(func: str, *args) -> None:
    from django_q.tasks import async_task

    async_task(func, *args)


def submission_send(*, submission_id: int) -> Submission | None:
    """Send one due submission. Claimed under skip_locked, so two workers never send it twice.

    A retry after an attempt whose answer was lost first asks the payer
    ($inquire with the same identifier) and adopts what it already received.
    """
    now = timezone.now()
    with transaction.atomic():
        submission = (
            Submission.objects.select_for_update(skip_locked=True)
            .filter(
                pk=submission_id,
                state__in=[Submission.State.QUEUED, Submission.State.RETRY],
                next_attempt_at__lte=now,
            )
            .first()
        )
        if submission is None:
            return None
        submission.state = Submission.State.SENDING
        submission.claimed_at = now
        submission.attempts += 1
        submission.save(update_fields=["state", "claimed_at", "attempts"])
    case = PriorAuthCase.objects.select_related("payer", "practice", "patient", "order", "order__coverage").get(
        pk=submission.case_id
    )
    if submission.is_cancel:
        _cancel_send(submission, case)
        submission.refresh_from_db(fields=["state", "outcome", "error"])
        return submission
    link = payer_link(case.payer)
    if not breaker_allows(link):
        _submission_retry_at(submission, link.open_until or now + BACKOFF_BASE, "payer paused (circuit open)")
        return submission
    receipt = None
    try:
        channel = get_channel(submission.channel)
        if submission.attempts > 1:
            decision = channel.check_status(case, submission_key=submission.idempotency_key)
            if decision is not None:
                receipt = SubmissionReceipt(
                    tracking_id=decision.payer_tracking_id or submission.idempotency_key,
                    decision=decision if decision.status != DecisionStatus.STILL_PENDING else None,
                    raw_reference=decision.raw_reference,
                )
        if receipt is None:
            receipt = channel.submit(
                case,
                submission_key=submission.idempotency_key,
                replaces_key=submission.replaces_key,
                message=submission.message,
            )
    except IntegrationError as exc:
        if not exc.permanent and not isinstance(exc, PasResponseError):
            breaker_record_failure(link, str(exc))
        _submission_failed(submission, case, exc)
        return submission
    breaker_record_success(link)
    submission_accept(submission=submission, receipt=receipt)
    submission.refresh_from_db(fields=["state", "accepted_at", "payer_tracking_id", "error"])
    return submission


def submission_accept(*, submission: Submission, receipt: SubmissionReceipt) -> None:
    """The payer has the request: the case moves to submitted (and on, if it decided at once).

    For an update answering a pended request this is the pended → submitted move.
    """
    now = timezone.now()
    with transaction.atomic():
        locked = Submission.objects.select_for_update().get(pk=submission.pk)
        if locked.state != Submission.State.SENDING:
            return
        locked.state = Submission.State.ACCEPTED
        locked.accepted_at = now
        locked.payer_tracking_id = receipt.tracking_id[:80]
        locked.error = ""
        locked.save(update_fields=["state", "accepted_at", "payer_tracking_id", "error"])
        case = PriorAuthCase.objects.select_related("payer").get(pk=locked.case_id)
        what = "the additional information" if locked.is_update else "the request"
        if not can_transition(case, Status.SUBMITTED):
            case_event_add(
                case=case,
                kind=CaseEvent.Kind.SUBMISSION,
                message=f"Payer received {what} ({receipt.tracking_id}) but the case is "
                f"'{case.get_status_display()}' now; left as it is.",
                submission_id=locked.pk,
            )
            return
        if locked.is_update:
            case_event_add(
                case=case,
                kind=CaseEvent.Kind.SUBMISSION,
                message=f"Additional information sent to {case.payer} ({locked.channel.upper()} Claim Update "
                f"{locked.idempotency_key}, updates {locked.replaces_key})",
                submission_id=locked.pk,
            )
        transition(
            case,
            Status.SUBMITTED,
            actor=locked.requested_by,
            reason=f"{'Additional information r' if locked.is_update else 'R'}eceived by {case.payer} "
            f"(tracking {receipt.tracking_id})",
            fields={
                "payer_tracking_id": receipt.tracking_id[:80],
                "channel": locked.channel,
                "next_poll_at": poll_next_at(case=case, now=now),
            },
            submission_id=locked.pk,
            raw=receipt.raw_reference,
        )
        CaseTracking.objects.update_or_create(case=case, defaults={"poll_failures": 0, "last_error": ""})
        if receipt.decision is not None:
            decision_apply(case=case, decision=receipt.decision, source="submit")
        else:
            # Queued with the payer (PAS: pended, no result yet): subscribe for its notification too.
            subscription_wanted(case=case)


def _submission_failed(submission: Submission, case: PriorAuthCase, exc: Exception) -> None:
    permanent = getattr(exc, "permanent", True)
    if not permanent and submission.attempts < SUBMIT_MAX_ATTEMPTS:
        _submission_retry_at(submission, timezone.now() + full_jitter(submission.attempts), str(exc))
        return
    with transaction.atomic():
        submission.state = Submission.State.FAILED
        submission.error = str(exc)[:2000]
        submission.save(update_fields=["state", "error"])
        case_event_add(
            case=case,
            kind=CaseEvent.Kind.SUBMISSION,
            message=f"{SAID[submission.kind]} failed after {submission.attempts} attempt(s): {exc}"[:300],
            submission_id=submission.pk,
        )
        if submission.is_cancel:
            _call_payer_to_cancel(case, submission, f"It could not be sent: {exc}")
            return
        task_create(
            case=case,
            kind=Task.Kind.SUBMIT,
            title=(
                "Additional information not sent: send it by hand, or fix and send again"
                if submission.is_update
                else "Submission failed: fix and resubmit, or submit by hand"
            ),
            detail=str(exc)[:2000],
            role=Role.COORDINATOR,
            dedupe_key=f"submit-failed-{submission.pk}",
        )


def _submission_retry_at(submission: Submission, when, why: str) -> None:
    submission.state = Submission.State.RETRY
    submission.next_attempt_at = when
    submission.error = why[:2000]
    submission.save(update_fields=["state", "next_attempt_at", "error"])
    case_event_add(
        case=submission.case,
        kind=CaseEvent.Kind.SUBMISSION,
        message=f"{SAID[submission.kind]} attempt {submission.attempts} did not go through, retry at "
        f"{timezone.localtime(when):%H:%M}: {why}"[:300],
        submission_id=submission.pk,
    )


def submissions_due(*, now=None, limit: int = 100) -> list[int]:
    """Ids of submissions to send now; SENDING rows abandoned by a dead worker are put back first."""
    now = now or timezone.now()
    Submission.objects.filter(state=Submission.State.SENDING, claimed_at__lt=now - SENDING_STALE_AFTER).update(
        state=Submission.State.RETRY, next_attempt_at=now
    )
    return list(
        Submission.objects.filter(
            state__in=[Submission.State.QUEUED, Submission.State.RETRY], next_attempt_at__lte=now
        ).values_list("pk", flat=True)[:limit]
    )


# --- cancelling -----------------------------------------------------------------------------------


def cancellation_request(*, case: PriorAuthCase, actor, awaiting: bool) -> Submission | None:
    """Tell the payer a cancelled case's request is withdrawn; sent in the background after commit.

    Called by `cases.services.case_cancel` inside the transaction that cancelled
    the case, so the local cancellation and this outbox row commit together: a
    payer that is down only delays the row (retried with backoff), it never
    undoes the cancellation. Requests not yet sent are withdrawn instead of
    sent. `awaiting`: the case was with the payer (submitted / pended /
    appealed). Idempotent: a second call returns the same row.
    """
    with transaction.atomic():
        locked = PriorAuthCase.objects.select_for_update(of=("self",)).select_related("payer").get(pk=case.pk)
        existing = locked.submissions.filter(kind=Submission.Kind.CANCEL).exclude(state=Submission.State.FAILED)
        if existing.exists():
            return existing.first()
        pending = locked.submissions.exclude(kind=Submission.Kind.CANCEL).filter(state__in=IN_FLIGHT)
        # On the wire now, or tried before with the answer lost: the payer may have it.
        reached = pending.filter(Q(state=Submission.State.SENDING) | Q(attempts__gt=0)).exists()
        withdrawn = pending.filter(state__in=[Submission.State.QUEUED, Submission.State.RETRY]).update(
            state=Submission.State.FAILED, error=WITHDRAWN
        )
        if withdrawn:
            case_event_add(
                case=locked,
                kind=CaseEvent.Kind.SUBMISSION,
                actor=actor,
                message=f"{withdrawn} request(s) not yet sent to {locked.payer} withdrawn",
            )
        if not (awaiting or reached):
            return None
        channel = channel_name_for(locked)
        submission = Submission.objects.create(
            case=locked,
            channel=channel,
            kind=Submission.Kind.CANCEL,
            idempotency_key=f"case-{locked.pk}-sub-{locked.submissions.count() + 1}",
            replaces_key=_cancel_target(locked),
            requested_by=actor,
        )
        case_event_add(
            case=locked,
            kind=CaseEvent.Kind.SUBMISSION,
            actor=actor,
            message=f"Cancellation to be sent to {locked.payer} ({channel.upper()})",
            submission_id=submission.pk,
        )
        submission_id = submission.pk
        transaction.on_commit(lambda: _enqueue("integrations.pas.tasks.submit", submission_id))
    return submission


def _cancel_target(case: PriorAuthCase) -> str:
    """The identifier to withdraw: the newest request the payer acknowledged, else one withdrawn
    after an attempt whose answer was lost, else the key a row-less case is known by."""
    submission = (
        case.submissions.exclude(kind=Submission.Kind.CANCEL)
        .filter(Q(state=Submission.State.ACCEPTED) | Q(attempts__gt=0, error=WITHDRAWN))
        .order_by("-id")
        .first()
    )
    return submission.idempotency_key if submission else f"case-{case.pk}"


def _cancel_send(submission: Submission, case: PriorAuthCase) -> None:
    now = timezone.now()
    if case.submissions.filter(state=Submission.State.SENDING).exclude(pk=submission.pk).exists():
        # A request is on the wire this moment: withdraw it once the payer has it,
        # so the cancellation names it. Waiting is not an attempt, nor news for the timeline.
        submission.state = Submission.State.RETRY
        submission.attempts -= 1
        submission.next_attempt_at = now + CANCEL_WAIT
        submission.error = "Waiting for a request to the payer that is still being sent"
        submission.save(update_fields=["state", "attempts", "next_attempt_at", "error"])
        return
    link = payer_link(case.payer)
    if not breaker_allows(link):
        _submission_retry_at(submission, link.open_until or now + BACKOFF_BASE, "payer paused (circuit open)")
        return
    target = _cancel_target(case)
    if target != submission.replaces_key:
        submission.replaces_key = target
        submission.save(update_fields=["replaces_key"])
    try:
        decision = get_channel(submission.channel).cancel(
            case, submission_key=target, cancel_key=submission.idempotency_key
        )
    except IntegrationError as exc:
        if not exc.permanent and not isinstance(exc, PasResponseError):
            breaker_record_failure(link, str(exc))
        _submission_failed(submission, case, exc)
        return
    breaker_record_success(link)
    cancellation_answered(submission=submission, decision=decision)


def cancellation_answered(*, submission: Submission, decision: PayerDecision) -> None:
    """Record the payer's answer to a cancellation: confirmed (X12 306 "C"), or a person calls."""
    with transaction.atomic():
        locked = Submission.objects.select_for_update(of=("self",)).select_related("case__payer").get(pk=submission.pk)
        if locked.state != Submission.State.SENDING:
            return
        locked.state = Submission.State.ACCEPTED
        locked.accepted_at = timezone.now()
        locked.payer_tracking_id = decision.payer_tracking_id[:80]
        locked.outcome = decision.status
        locked.error = ""
        locked.save(update_fields=["state", "accepted_at", "payer_tracking_id", "outcome", "error"])
        case = locked.case
        case_event_add(
            case=case,
            kind=CaseEvent.Kind.SUBMISSION,
            message=f"Cancellation sent to {case.payer} ({locked.channel.upper()}, withdraws {locked.replaces_key})",
            submission_id=locked.pk,
        )
        if decision.status == DecisionStatus.CANCELLED:
            case_event_add(
                case=case,
                kind=CaseEvent.Kind.PAYER,
                message=f"{case.payer} confirmed the cancellation ({decision.review_action_code or 'C'})",
                submission_id=locked.pk,
                raw=decision.raw_reference,
            )
            return
        answer = f"answered '{decision.status}'"
        if decision.review_action_code:
            answer += f" ({decision.review_action_code})"
        if decision.reason_text:
            answer += f": {decision.reason_text}"
        case_event_add(
            case=case,
            kind=CaseEvent.Kind.PAYER,
            message=f"{case.payer} did not confirm the cancellation: {answer}"[:300],
            submission_id=locked.pk,
            raw=decision.raw_reference,
        )
        _call_payer_to_cancel(case, locked, f"The payer {answer}.")


def _call_payer_to_cancel(case: PriorAuthCase, submission: Submission, why: str) -> None:
    task_create(
        case=case,
        kind=Task.Kind.RECORD_OUTCOME,
        title=f"Call {case.payer} to cancel the request",
        detail=f"The case is cancelled here, but {case.payer} has not confirmed it through "
        f"{submission.channel.upper()}. {why} Ask the payer to withdraw request {submission.replaces_key} "
        "and note the call on the case.",
        role=Role.COORDINATOR,
        due_at=timezone.now() + timedelta(days=1),
        dedupe_key=f"cancel-payer-{submission.pk}",
    )


# --- polling --------------------------------------------------------------------------------------


def full_jitter(failures: int) -> timedelta:
    """'Full jitter' backoff: uniform over [0, min(cap, base · 2^failures)], at least 10 s."""
    ceiling = min(BACKOFF_CAP, BACKOFF_BASE * (2 ** min(failures, 20)))
    return max(timedelta(seconds=10), timedelta(seconds=random.uniform(0, ceiling.total_seconds())))


def poll_next_at(*, case: PriorAuthCase, now, link: PayerLink | None = None):
    """The next status check by the payer's cadence, sooner as the decision deadline nears."""
    if link is None:
        link = PayerLink.objects.filter(payer_id=case.payer_id).first()
    if link is not None and link.poll_minutes:
        interval = timedelta(minutes=link.poll_minutes)
    else:
        interval = timedelta(hours=case.payer.poll_interval_hours)
    if case.decision_due_at is not None:
        remaining = case.decision_due_at - now
        # A quarter of the time left, at least every 15 min; hourly once overdue.
        near = max(remaining / 4, timedelta(minutes=15)) if remaining > timedelta(0) else timedelta(hours=1)
        interval = min(interval, near)
    return now + interval


def poll_claim_due(*, now=None, limit: int = 500) -> list[int]:
    """Claim up to `limit` due cases and push their next poll out by a lease.

    `skip_locked`: two schedulers running at once take disjoint rows, so no
    case is polled twice. Cases of a payer whose breaker is open are left
    alone. The query walks the partial index on next_poll_at (only cases
    still awaiting a payer have one), so closed cases cost nothing.
    """
    now = now or timezone.now()
    paused = PayerLink.objects.filter(breaker_state=PayerLink.Breaker.OPEN, open_until__gt=now).values("payer_id")
    with transaction.atomic():
        ids = list(
            PriorAuthCase.objects.filter(next_poll_at__lte=now, status__in=AWAITING)
            .exclude(payer_id__in=paused)
            .order_by("next_poll_at")
            .select_for_update(skip_locked=True, of=("self",))
            .values_list("pk", flat=True)[:limit]
        )
        if ids:
            PriorAuthCase.objects.filter(pk__in=ids).update(next_poll_at=now + POLL_LEASE)
    return ids


def case_poll(*, case_id: int) -> str:
    """Ask the payer about one case and apply the answer. Returns what happened (for logs/bench)."""
    case = PriorAuthCase.objects.select_related("payer", "practice", "patient", "order", "order__coverage").get(
        pk=case_id
    )
    if case.status not in AWAITING:
        return "not awaiting"
    now = timezone.now()
    # The newest request the payer acknowledged: after an update, the update.
    submission = last_accepted(case)
    channel_name = submission.channel if submission else channel_name_for(case)
    if not has_channel(channel_name):
        # Portal / fax / X12 cases are followed up by people (a task): take them off the poll index.
        PriorAuthCase.objects.filter(pk=case.pk).update(next_poll_at=None)
        return "manual"
    link = payer_link(case.payer)
    if not breaker_allows(link):
        _set_next_poll(case, (link.open_until or now) + full_jitter(0))
        return "paused"
    key = submission.idempotency_key if submission else f"case-{case.pk}"
    try:
        decision = get_channel(channel_name).check_status(case, submission_key=key)
    except IntegrationError as exc:
        transient = not exc.permanent and not isinstance(exc, PasResponseError)
        if transient:
            breaker_record_failure(link, str(exc))
        _poll_failed(case, exc)
        return "error"
    breaker_record_success(link)
    if decision is None:
        _poll_failed(case, IntegrationError("the payer does not know this request"))
        return "unknown"
    if decision.status == DecisionStatus.STILL_PENDING:
        # The common answer: no lock needed, nothing to apply; just the next check.
        now = timezone.now()
        _set_next_poll(case, poll_next_at(case=case, now=now, link=link))
        if not CaseTracking.objects.filter(case=case).update(last_polled_at=now, poll_failures=0, last_error=""):
            CaseTracking.objects.get_or_create(case=case, defaults={"last_polled_at": now})
        return "no change"
    event = decision_apply(case=case, decision=decision, source="poll")
    return decision.status if event is not None else "no change"


def _set_next_poll(case: PriorAuthCase, when) -> None:
    # Only while still awaiting: a decision applied meanwhile cleared next_poll_at for good.
    PriorAuthCase.objects.filter(pk=case.pk, status__in=AWAITING).update(next_poll_at=when)


def _poll_failed(case: PriorAuthCase, exc: Exception) -> None:
    now = timezone.now()
    tracking, _ = CaseTracking.objects.get_or_create(case=case)
    tracking.poll_failures = F("poll_failures") + 1
    tracking.last_error = str(exc)[:300]
    tracking.last_polled_at = now
    tracking.save(update_fields=["poll_failures", "last_error", "last_polled_at"])
    tracking.refresh_from_db(fields=["poll_failures"])
    _set_next_poll(case, now + full_jitter(tracking.poll_failures))
    # The timeline gets the first failure of a run and every fifth, not every retry.
    if tracking.poll_failures == 1 or tracking.poll_failures % 5 == 0:
        case_event_add(
            case=case,
            kind=CaseEvent.Kind.PAYER,
            message=f"Status check failed ({tracking.poll_failures}×): {exc}"[:300],
        )


# --- applying a decision --------------------------------------------------------------------------

TARGET = {
    DecisionStatus.APPROVED: Status.APPROVED,
    DecisionStatus.PARTIALLY_APPROVED: Status.PARTIALLY_APPROVED,
    DecisionStatus.DENIED: Status.DENIED,
    DecisionStatus.PENDED: Status.PENDED,
    DecisionStatus.NOT_REQUIRED: Status.NOT_REQUIRED,
}


def decision_apply(*, case: PriorAuthCase, decision: PayerDecision, source: str) -> CaseEvent | None:
    """Apply a payer's answer to `case` exactly once.

    Under the case's row lock: an answer older than the last one applied, one
    that would not move the case (the same decision again) or one the state
    machine refuses is a no-op. Everything it causes — the move, the decision
    fields, staff tasks, and through `case_status_changing` the EHR write-back
    and the patient text — commits together or not at all. Returns the status
    event, or None when nothing changed.
    """
    from integrations.pas.outcomes import outcome_branch, outcome_non_final

    now = timezone.now()
    with transaction.atomic():
        locked = PriorAuthCase.objects.select_for_update(of=("self",)).select_related("payer").get(pk=case.pk)
        tracking, _ = CaseTracking.objects.select_for_update().get_or_create(case=locked)
        tracking.last_polled_at = now
        tracking.poll_failures = 0
        tracking.last_error = ""
        if locked.status not in AWAITING:
            tracking.save()
            return None
        if decision.decided_at and tracking.last_decision_at and decision.decided_at < tracking.last_decision_at:
            tracking.save()
            _set_next_poll(locked, poll_next_at(case=locked, now=now))
            return None  # out of order: older than what we already applied
        target = TARGET.get(decision.status)
        if target is None or target == locked.status or not can_transition(locked, target):
            tracking.save()
            _set_next_poll(locked, poll_next_at(case=locked, now=now))
            if target is None:
                outcome_non_final(case=locked, decision=decision)
            return None
        fields = _decision_fields(locked, decision, target, now)
        event = transition(
            locked,
            target,
            reason=_reason(locked, decision),
            fields=fields,
            source=source,
            review_action=decision.review_action_code,
            shape=decision.shape,
            raw=decision.raw_reference,
        )
        tracking.last_decision_at = decision.decided_at or now
        tracking.last_decision = decision.status
        tracking.save()
        outcome_branch(case=locked, decision=decision, event=event)
        if target == Status.PENDED:
            # The result will come later: ask the payer to tell us (PAS subscription), once per practice.
            subscription_wanted(case=locked)
    case.refresh_from_db()
    return event


def _decision_fields(case: PriorAuthCase, decision: PayerDecision, target: Status, now) -> dict:
    fields: dict = {}
    if decision.payer_tracking_id:
        fields["payer_tracking_id"] = decision.payer_tracking_id[:80]
    if target in (Status.APPROVED, Status.PARTIALLY_APPROVED):
        fields["authorization_number"] = decision.authorization_number[:50]
        fields["auth_effective_start"] = decision.effective_start
        fields["auth_effective_end"] = decision.effective_end
        if decision.units_approved is not None:
            fields["units_approved"] = Decimal(str(decision.units_approved))
    if target in (Status.DENIED, Status.PARTIALLY_APPROVED):
        fields["denial_reason_code"] = decision.reason_code[:20]
        fields["denial_reason_text"] = decision.reason_text
        fields["appeal_deadline"] = timezone.localdate(now) + timedelta(days=case.payer.appeal_window_days)
    if target == Status.PENDED:
        fields["next_poll_at"] = poll_next_at(case=case, now=now)
    return fields


def _reason(case: PriorAuthCase, decision: PayerDecision) -> str:
    said = {
        DecisionStatus.APPROVED: "approved",
        DecisionStatus.PARTIALLY_APPROVED: "partially approved",
        DecisionStatus.DENIED: "denied",
        DecisionStatus.PENDED: "pended",
        DecisionStatus.NOT_REQUIRED: "no authorization required",
    }[decision.status]
    parts = [f"{case.payer} {said}"]
    if decision.review_action_code:
        parts[0] += f" ({decision.review_action_code})"
    if decision.authorization_number and decision.status in (
        DecisionStatus.APPROVED,
        DecisionStatus.PARTIALLY_APPROVED,
    ):
        parts.append(f"authorization {decision.authorization_number}")
    if decision.effective_start or decision.effective_end:
        parts.append(f"valid {decision.effective_start or '?'} to {decision.effective_end or 'open'}")
    if decision.units_approved is not None:
        parts.append(f"{decision.units_approved:g} units")
    if decision.reason_code:
        parts.append(f"reason {decision.reason_code}")
    text = decision.reason_text or "; ".join(decision.info_requested)
    if text:
        parts.append(f"payer says: {text}")
    return ", ".join(parts)


# --- circuit breaker ------------------------------------------------------------------------------


def payer_link(payer) -> PayerLink:
    link, _ = PayerLink.objects.get_or_create(payer=payer)
    return link


def breaker_allows(link: PayerLink) -> bool:
    """Closed: yes. Open and cooling down: no. Cool-down over: one caller wins the half-open probe."""
    now = timezone.now()
    if link.breaker_state == PayerLink.Breaker.CLOSED:
        return True
    if link.breaker_state == PayerLink.Breaker.OPEN:
        if link.open_until and link.open_until > now:
            return False
        won = PayerLink.objects.filter(pk=link.pk, breaker_state=PayerLink.Breaker.OPEN).update(
            breaker_state=PayerLink.Breaker.HALF_OPEN
        )
        link.breaker_state = PayerLink.Breaker.HALF_OPEN
        return won == 1
    return False  # half-open: another worker's probe is in flight


def breaker_record_success(link: PayerLink) -> None:
    now = timezone.now()
    if link.breaker_state != PayerLink.Breaker.CLOSED or link.consecutive_failures:
        PayerLink.objects.filter(pk=link.pk).update(
            breaker_state=PayerLink.Breaker.CLOSED,
            consecutive_failures=0,
            times_opened=0,
            open_until=None,
            last_success_at=now,
        )
    elif link.last_success_at is None or now - link.last_success_at > timedelta(minutes=1):
        PayerLink.objects.filter(pk=link.pk).update(last_success_at=now)


def breaker_record_failure(link: PayerLink, error: str) -> None:
    """Count a transient failure; the threshold (or a failed probe) opens the breaker with a growing cool-down."""
    now = timezone.now()
    with transaction.atomic():
        locked = PayerLink.objects.select_for_update().get(pk=link.pk)
        locked.consecutive_failures += 1
        locked.last_error = error[:300]
        locked.last_failure_at = now
        if locked.breaker_state == PayerLink.Breaker.HALF_OPEN or (
            locked.breaker_state == PayerLink.Breaker.CLOSED and locked.consecutive_failures >= BREAKER_THRESHOLD
        ):
            cooldown = min(BREAKER_COOLDOWN_CAP, timedelta(minutes=1) * (2**locked.times_opened))
            locked.breaker_state = PayerLink.Breaker.OPEN
            locked.open_until = now + cooldown
            locked.times_opened += 1
            log.warning("payer %s circuit open for %s: %s", locked.payer_id, cooldown, error[:120])
        locked.save()
    link.refresh_from_db()
