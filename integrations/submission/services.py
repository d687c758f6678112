"""Submitting, updating and cancelling requests to payers, for every channel. Keyword-only `<entity>_<action>`.

The web request only records intent (`submission_request`, `cancellation_request`):
an automated channel is called from background tasks (`submission_send`); a
channel worked by hand gets a person's task at once (it calls nothing outside)
and the request waits `with_staff` until someone records that the payer has it
(`submission_record_by_hand`). Decisions are applied by `cases.decisions`.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from cases.decisions import decision_apply
from cases.models import CaseEvent, PriorAuthCase, Role, Status, Task
from cases.services import case_event_add, task_create
from cases.transitions import can_transition, transition
from integrations.base import DecisionStatus, IntegrationError, PayerDecision, SubmissionReceipt
from integrations.outbox import (
    RETRY,
    Outbox,
    RetryPolicy,
    outbox_claim,
    outbox_due_ids,
    outbox_reclaim_abandoned,
    outbox_retry_or_fail,
)
from integrations.registry import BY_HAND, channel_name_for, get_channel, is_automated
from integrations.submission.breaker import (
    breaker_allows,
    breaker_next_try,
    breaker_record_error,
    breaker_record_success,
    payer_link,
)
from integrations.submission.cadence import BACKOFF_BASE, BACKOFF_CAP, full_jitter, poll_next_at
from integrations.submission.models import IN_FLIGHT, CaseTracking, Submission

# The give-up rule: 6 real calls to the payer. Waiting while the payer's breaker is open is not an
# attempt (the claim's count is given back), so a long outage never fails a request by itself; the
# stall and deadline escalations put a person on a case that waits too long.
SUBMIT_MAX_ATTEMPTS = 6
# A SENDING submission older than this was abandoned by a dead worker (> HTTP timeouts + task timeout).
SENDING_STALE_AFTER = timedelta(seconds=settings.SUBMISSION_SENDING_STALE_SECONDS)  # 5 min
SUBMISSIONS = Outbox(
    model=Submission,
    due_states=(Submission.State.QUEUED, Submission.State.RETRY),
    sending_state=Submission.State.SENDING,
    retry_state=Submission.State.RETRY,
    failed_state=Submission.State.FAILED,
    # Full jitter below 2, 4, 8 … min up to 2 h, at least 10 s: `cadence.full_jitter(attempts)`.
    policy=RetryPolicy(
        max_attempts=SUBMIT_MAX_ATTEMPTS,
        base=2 * BACKOFF_BASE,
        cap=BACKOFF_CAP,
        jitter=True,
        floor=timedelta(seconds=10),
    ),
)
WITHDRAWN = "Withdrawn: the case was cancelled before it was sent"
WITHDRAWN_BY_HAND = "Withdrawn: the case was cancelled while a person was to send it (it may have been sent)"
# How each kind of submission is named on the timeline.
SAID = {
    Submission.Kind.REQUEST: "Submission",
    Submission.Kind.UPDATE: "Sending the additional information",
    Submission.Kind.CANCEL: "Cancellation",
}
# How far a payer's clock may run behind ours: an answer about an update is made after the payer
# received it, so one dated earlier than its sending (less this) is from before the update.
PAYER_CLOCK_SKEW = timedelta(minutes=1)
# A cancellation waits this long while a request to the same payer is on the wire.
CANCEL_WAIT = timedelta(seconds=30)
SEND_TASK = "integrations.submission.tasks.submit"
# `Submission.error` while the row waits for a paused payer: the timeline says so once, and once when it resumes.
PAYER_PAUSED = "Waiting: the payer's calls are paused (circuit open)"


class SubmissionRefused(Exception):
    """The case cannot be submitted now; the message says why (shown to staff)."""


# --- submitting -----------------------------------------------------------------------------------


def submission_request(*, case: PriorAuthCase, actor, message: str = "") -> Submission:
    """Record that `case` is to be sent to its payer, through the payer's channel.

    A ready case is submitted; a pended one is answered with an update of the
    last request the payer received (`replaces_key`), carrying what was added
    since and staff's `message`. An automated channel sends it in the
    background after commit; a channel worked by hand gets the coordinator's
    task now (with the packet and the payer's instructions).

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
        name = channel_name_for(locked)
        try:
            channel = get_channel(name)
        except IntegrationError as exc:
            raise SubmissionRefused(str(exc)) from exc
        update = locked.status == Status.PENDED
        if update and not channel.can_update:
            raise SubmissionRefused(f"{locked.payer} cannot be sent more information through {name}: send it by hand.")
        sequence = locked.submissions.count() + 1
        submission = Submission.objects.create(
            case=locked,
            channel=name,
            idempotency_key=f"case-{locked.pk}-sub-{sequence}",
            requested_by=actor,
            kind=Submission.Kind.UPDATE if update else Submission.Kind.REQUEST,
            replaces_key=last_sent_key(locked) if update else "",
            message=message.strip() if update else "",
            state=Submission.State.QUEUED if channel.automated else Submission.State.WITH_STAFF,
        )
        how = name.upper() if channel.automated else f"{name or 'no channel'}, by hand"
        if update:
            said = f"Sending additional information to {locked.payer} ({how}, updates {submission.replaces_key})"
        else:
            said = f"Submission requested ({how})"
        case_event_add(
            case=locked, kind=CaseEvent.Kind.SUBMISSION, actor=actor, message=said, submission_id=submission.pk
        )
        if channel.automated:
            submission_id = submission.pk
            transaction.on_commit(lambda: _enqueue(SEND_TASK, submission_id))
        else:
            # Worked by hand: the channel writes the person's task now (it calls nothing outside).
            channel.submit(
                locked,
                submission_key=submission.idempotency_key,
                replaces_key=submission.replaces_key,
                message=submission.message,
            )
    return submission


def last_accepted(case: PriorAuthCase) -> Submission | None:
    """The newest request or update the payer acknowledged through the case's channel: what
    checks and updates refer to. (Information staff sent by hand outside an automated channel
    is not something that channel can be asked about.)"""
    return (
        case.submissions.filter(state=Submission.State.ACCEPTED, channel=channel_name_for(case))
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

    A retry after an attempt whose answer was lost first asks the payer (the
    same identifier) and adopts what it already received.
    """
    now = timezone.now()
    submission = outbox_claim(SUBMISSIONS, submission_id, now=now)
    if submission is None:
        return None
    case = PriorAuthCase.objects.select_related("payer", "practice", "patient", "order", "order__coverage").get(
        pk=submission.case_id
    )
    if submission.is_cancel:
        _cancel_send(submission, case)
        submission.refresh_from_db(fields=["state", "outcome", "error"])
        return submission
    link = payer_link(case.payer)
    if not breaker_allows(link):
        _submission_wait_for_payer(submission, case, link)
        return submission
    _submission_resumed(submission, case)
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
        breaker_record_error(link, exc)
        _submission_failed(submission, case, exc)
        return submission
    breaker_record_success(link)
    if receipt is None:
        # Handed to a carrier that reports delivery later (fax): the channel accepts the request
        # on the delivery report (`submission_accept`) or gives up on it (`submission_fail`).
        Submission.objects.filter(pk=submission.pk, state=Submission.State.SENDING).update(
            state=Submission.State.HANDED_OVER, error=""
        )
        submission.refresh_from_db(fields=["state", "error"])
        return submission
    submission_accept(submission=submission, receipt=receipt)
    submission.refresh_from_db(fields=["state", "accepted_at", "payer_tracking_id", "error"])
    return submission


def submission_accept(*, submission: Submission, receipt: SubmissionReceipt, actor=None) -> None:
    """The payer has the request: the case moves to submitted (and on, if it decided at once).

    For an update answering a pended request this is the pended → submitted
    move. `actor` is the person who recorded it, for a request sent by hand.
    """
    now = timezone.now()
    with transaction.atomic():
        locked = Submission.objects.select_for_update().get(pk=submission.pk)
        if locked.state not in (Submission.State.SENDING, Submission.State.WITH_STAFF, Submission.State.HANDED_OVER):
            return
        by_hand = locked.state == Submission.State.WITH_STAFF
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
        how = f"{locked.channel or 'no channel'}, by hand" if by_hand else locked.channel.upper()
        if locked.is_update:
            case_event_add(
                case=case,
                kind=CaseEvent.Kind.SUBMISSION,
                actor=actor,
                message=f"Additional information sent to {case.payer} ({how} {locked.idempotency_key}, "
                f"updates {locked.replaces_key})",
                submission_id=locked.pk,
            )
        channel = get_channel(locked.channel)
        reason = (
            f"{'Additional information r' if locked.is_update else 'R'}eceived by {case.payer} "
            f"(tracking {receipt.tracking_id})"
        )
        if by_hand:
            reason = f"Sent by hand ({locked.channel or 'no channel'}): {reason[0].lower()}{reason[1:]}"
        # Information faxed for a request the payer has through its automated channel: that channel
        # still serves the case (and is asked about the request it has).
        keeps_channel = locked.is_update and locked.channel == BY_HAND and bool(case.channel)
        serving = get_channel(case.channel) if keeps_channel else channel
        transition(
            case,
            Status.SUBMITTED,
            actor=actor or locked.requested_by,
            reason=reason,
            fields={
                "payer_tracking_id": receipt.tracking_id[:80],
                "channel": case.channel if keeps_channel else locked.channel,
                "next_poll_at": poll_next_at(case=case, now=now, automated=serving.automated),
            },
            submission_id=locked.pk,
            raw=receipt.raw_reference,
        )
        if by_hand:
            # The person's "send it" task is done: they just said the payer has it.
            Task.objects.filter(case=case, kind=Task.Kind.SUBMIT, done_at__isnull=True).update(
                done_at=now, done_by=actor
            )
        tracking, _ = CaseTracking.objects.select_for_update().get_or_create(case=case)
        tracking.poll_failures, tracking.last_error = 0, ""
        if locked.is_update:
            # The payer's answers are now about this update: the baseline is when it was sent (less the
            # clock skew), so an answer made before the payer had it is older than the case, and one
            # made in the same second as the decision it answers (payers stamp whole seconds) is not.
            tracking.last_decision_at = (locked.claimed_at or now) - PAYER_CLOCK_SKEW
        tracking.save()
        if receipt.decision is not None:
            decision_apply(case=case, decision=receipt.decision, source="submit", asked_key=locked.idempotency_key)
        else:
            serving.on_awaiting(case)


def submission_record_by_hand(*, case: PriorAuthCase, actor, payer_reference: str = "") -> Submission:
    """A person says the payer now has the request (or the additional information) they sent by hand.

    Accepts the request waiting with staff. Otherwise the request was sent
    outside its channel, and gets its row here so every request the payer has
    is one: the information for a pended case sent without "send update", or a
    ready case sent by hand after its automated send failed (its coordinator
    task says so). On a channel worked by hand the row is that channel's;
    outside an automated one it is `by_hand` (followed up by a person).
    """
    with transaction.atomic():
        locked = PriorAuthCase.objects.select_for_update(of=("self",)).select_related("payer").get(pk=case.pk)
        waiting = (
            locked.submissions.exclude(kind=Submission.Kind.CANCEL)
            .filter(state=Submission.State.WITH_STAFF)
            .order_by("-id")
            .first()
        )
        failed_send = (
            locked.status == Status.READY and locked.tasks.filter(kind=Task.Kind.SUBMIT, done_at__isnull=True).exists()
        )
        if waiting is None and (locked.status == Status.PENDED or failed_send):
            name = channel_name_for(locked)
            waiting = Submission.objects.create(
                case=locked,
                channel=BY_HAND if is_automated(name) else name,
                idempotency_key=f"case-{locked.pk}-sub-{locked.submissions.count() + 1}",
                requested_by=actor,
                kind=Submission.Kind.UPDATE if locked.status == Status.PENDED else Submission.Kind.REQUEST,
                replaces_key=last_sent_key(locked) if locked.status == Status.PENDED else "",
                state=Submission.State.WITH_STAFF,
            )
        if waiting is None:
            raise SubmissionRefused("Submit the case before recording the payer's answer.")
        submission_accept(
            submission=waiting,
            receipt=SubmissionReceipt(tracking_id=payer_reference.strip() or waiting.idempotency_key),
            actor=actor,
        )
    waiting.refresh_from_db()
    return waiting


def submission_fail(*, submission: Submission, error: IntegrationError) -> None:
    """The carrier a request was handed to could not deliver it (`error.permanent`: give up with
    the coordinator's task). A request no longer handed over (cancelled, accepted) is left alone."""
    with transaction.atomic():
        locked = Submission.objects.select_for_update().get(pk=submission.pk)
        if locked.state != Submission.State.HANDED_OVER:
            return
        case = PriorAuthCase.objects.select_related("payer").get(pk=locked.case_id)
        _submission_failed(locked, case, error)


def _submission_failed(submission: Submission, case: PriorAuthCase, exc: Exception) -> None:
    permanent = getattr(exc, "permanent", True)
    if outbox_retry_or_fail(SUBMISSIONS, submission, permanent=permanent, now=timezone.now()) == RETRY:
        _submission_retry_at(submission, submission.next_attempt_at, str(exc))
        return
    with transaction.atomic():
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


def _submission_wait_for_payer(submission: Submission, case: PriorAuthCase, link) -> None:
    """The payer's breaker refused the call: wait for it without using an attempt (the claim counted
    one: give it back, as a cancellation waiting for a request on the wire does). The timeline says
    so the first time only; the row comes back when the cool-down (or the probe's limit) ends."""
    when = breaker_next_try(link) + full_jitter(0)  # jittered: a payer's rows do not all return at once
    first = submission.error != PAYER_PAUSED
    with transaction.atomic():
        submission.state = Submission.State.RETRY
        submission.attempts = max(0, submission.attempts - 1)
        submission.next_attempt_at = when
        submission.error = PAYER_PAUSED
        submission.save(update_fields=["state", "attempts", "next_attempt_at", "error"])
        if first:
            case_event_add(
                case=case,
                kind=CaseEvent.Kind.SUBMISSION,
                message=f"{SAID[submission.kind]} waits: calls to {case.payer} are paused (it is not answering); "
                f"trying again from {timezone.localtime(when):%H:%M}"[:300],
                submission_id=submission.pk,
            )


def _submission_resumed(submission: Submission, case: PriorAuthCase) -> None:
    """The one timeline line when a row that waited for a paused payer is sent again."""
    if submission.error != PAYER_PAUSED:
        return
    submission.error = ""
    submission.save(update_fields=["error"])
    case_event_add(
        case=case,
        kind=CaseEvent.Kind.SUBMISSION,
        message=f"{SAID[submission.kind]} resumed: {case.payer} is being called again",
        submission_id=submission.pk,
    )


def submissions_due(*, now=None, limit: int = 100) -> list[int]:
    """Ids of submissions to send now; SENDING rows abandoned by a dead worker are put back first."""
    now = now or timezone.now()
    # Their retry asks the payer first (attempts > 1), so when the lost attempt began does not matter.
    outbox_reclaim_abandoned(SUBMISSIONS, stale_after=SENDING_STALE_AFTER, now=now)
    return outbox_due_ids(SUBMISSIONS, now=now, limit=limit)


# --- cancelling -----------------------------------------------------------------------------------


def cancellation_request(*, case: PriorAuthCase, actor, awaiting: bool, reason: str = "") -> Submission | None:
    """Tell the payer a cancelled case's request is withdrawn.

    Called by the case's cancel action inside the transaction that cancelled
    the case, so the local cancellation and this outbox row commit together: a
    payer that is down only delays the row (retried with backoff), it never
    undoes the cancellation. Requests not yet sent are withdrawn instead of
    sent. A channel worked by hand (or one that cannot cancel) gets a person's
    task to withdraw it. `awaiting`: the case was with the payer (submitted /
    pended / appealed). `reason` is staff's, kept on the row for whoever calls
    the payer. Idempotent: a second call returns the same row.
    """
    with transaction.atomic():
        locked = PriorAuthCase.objects.select_for_update(of=("self",)).select_related("payer").get(pk=case.pk)
        existing = locked.submissions.filter(kind=Submission.Kind.CANCEL).exclude(state=Submission.State.FAILED)
        if existing.exists():
            return existing.first()
        pending = locked.submissions.exclude(kind=Submission.Kind.CANCEL).filter(state__in=IN_FLIGHT)
        # On the wire now, tried before with the answer lost, or with a person who may have sent it.
        reached = pending.filter(
            Q(state__in=[Submission.State.SENDING, Submission.State.WITH_STAFF]) | Q(attempts__gt=0)
        ).exists()
        withdrawn = pending.filter(state__in=[Submission.State.QUEUED, Submission.State.RETRY]).update(
            state=Submission.State.FAILED, error=WITHDRAWN
        )
        withdrawn += pending.filter(state=Submission.State.WITH_STAFF).update(
            state=Submission.State.FAILED, error=WITHDRAWN_BY_HAND
        )
        if withdrawn:
            case_event_add(
                case=locked,
                kind=CaseEvent.Kind.SUBMISSION,
                actor=actor,
                message=f"{withdrawn} request(s) not yet received by {locked.payer} withdrawn",
            )
        if not (awaiting or reached):
            return None
        name = channel_name_for(locked)
        channel = get_channel(name)
        submission = Submission.objects.create(
            case=locked,
            channel=name,
            kind=Submission.Kind.CANCEL,
            idempotency_key=f"case-{locked.pk}-sub-{locked.submissions.count() + 1}",
            replaces_key=_cancel_target(locked),
            requested_by=actor,
            message=reason.strip(),
            state=Submission.State.QUEUED if channel.automated and channel.can_cancel else Submission.State.WITH_STAFF,
        )
        if submission.state == Submission.State.WITH_STAFF:
            case_event_add(
                case=locked,
                kind=CaseEvent.Kind.SUBMISSION,
                actor=actor,
                message=f"Cancellation to be made by hand with {locked.payer} ({name or 'no channel'})",
                submission_id=submission.pk,
            )
            if channel.can_cancel:
                channel.cancel(
                    locked,
                    submission_key=submission.replaces_key,
                    cancel_key=submission.idempotency_key,
                    reason=submission.message,
                )
            else:
                _call_payer_to_cancel(locked, submission, f"{name or 'This channel'} cannot withdraw a request.")
            return submission
        case_event_add(
            case=locked,
            kind=CaseEvent.Kind.SUBMISSION,
            actor=actor,
            message=f"Cancellation to be sent to {locked.payer} ({name.upper()})",
            submission_id=submission.pk,
        )
        submission_id = submission.pk
        transaction.on_commit(lambda: _enqueue(SEND_TASK, submission_id))
    return submission


def _cancel_target(case: PriorAuthCase) -> str:
    """The identifier to withdraw: the newest request the payer acknowledged, else one withdrawn
    after an attempt whose answer was lost (or that a person may have sent), else the key a
    row-less case is known by."""
    submission = (
        case.submissions.exclude(kind=Submission.Kind.CANCEL)
        .filter(Q(state=Submission.State.ACCEPTED) | Q(attempts__gt=0, error=WITHDRAWN) | Q(error=WITHDRAWN_BY_HAND))
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
        _submission_wait_for_payer(submission, case, link)
        return
    _submission_resumed(submission, case)
    target = _cancel_target(case)
    if target != submission.replaces_key:
        submission.replaces_key = target
        submission.save(update_fields=["replaces_key"])
    try:
        decision = get_channel(submission.channel).cancel(
            case, submission_key=target, cancel_key=submission.idempotency_key
        )
    except IntegrationError as exc:
        breaker_record_error(link, exc)
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
