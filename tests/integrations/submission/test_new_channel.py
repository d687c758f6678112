"""A new automated channel is one package plus one registry line: nothing in cases/ changes.

`tests/integrations/submission/channels.py` is the whole channel; the `scripted`
fixture adds its registry line. Here it submits, is checked on cadence,
receives a decision, and takes an update and a cancellation, through the
same services and tasks the real channels use.
"""

from datetime import timedelta

from django.utils import timezone

from cases import actions
from cases.models import Status, Task
from integrations.base import DecisionStatus, PayerDecision
from integrations.submission import tasks
from integrations.submission.models import Exchange, Submission
from tests.integrations.submission.conftest import ready_case


def test_submit_poll_and_decide_through_a_channel_registered_in_one_line(
    practice, owner_provider, coordinator, scripted, q_sync
):
    case = ready_case(practice, owner_provider, channel="scripted", poll_interval_hours=6)
    practice.submission_requires_approval = False
    practice.save()
    # The case page's Submit button calls this service; it knows nothing of the channel.
    submission = actions.case_submit(case=case, actor=coordinator)
    assert submission.channel == "scripted" and submission.state == Submission.State.QUEUED
    assert tasks.submit(submission.pk) == Submission.State.ACCEPTED  # the worker's entry point
    case.refresh_from_db()
    assert case.status == Status.SUBMITTED and case.payer_tracking_id == f"SCR-{submission.idempotency_key}"
    assert scripted.awaiting == [case.pk]  # the channel's hook: the case now waits for the payer
    assert case.next_poll_at - timezone.now() <= timedelta(hours=6)

    # The poll schedule finds it when due and asks the channel; the answer is applied once.
    scripted.script[case.pk] = {
        "status": PayerDecision(
            status=DecisionStatus.APPROVED,
            authorization_number="SCR-AUTH",
            effective_start=timezone.localdate(),
            decided_at=timezone.now(),
        )
    }
    type(case).objects.filter(pk=case.pk).update(next_poll_at=timezone.now() - timedelta(seconds=1))
    assert tasks.poll_due_cases() == 1  # enqueues poll_case, run inline (q_sync)
    case.refresh_from_db()
    assert case.status == Status.APPROVED and case.authorization_number == "SCR-AUTH"
    assert ("check", case.pk, submission.idempotency_key, "") in scripted.calls
    assert Task.objects.filter(case=case, kind=Task.Kind.RESCHEDULE).count() == 1
    # A channel that keeps no Exchange rows of its own is fine: the engine does not require them.
    assert not Exchange.objects.filter(case=case).exists()


def test_update_and_cancel_through_the_new_channel(practice, owner_provider, coordinator, scripted, settings, tmp_path):
    case = ready_case(practice, owner_provider, channel="scripted")
    practice.submission_requires_approval = False
    practice.save()
    first = actions.case_submit(case=case, actor=coordinator)
    tasks.submit(first.pk)
    scripted.script[case.pk] = {
        "status": PayerDecision(
            status=DecisionStatus.PENDED, decided_at=timezone.now(), info_requested=("Send the MRI report",)
        )
    }
    from integrations.submission.polling import case_poll

    assert case_poll(case_id=case.pk) == DecisionStatus.PENDED
    case.refresh_from_db()
    update = actions.case_send_update(case=case, actor=coordinator, message="MRI report: no fracture.")
    assert update.kind == Submission.Kind.UPDATE and update.replaces_key == first.idempotency_key
    scripted.script[case.pk] = {}
    assert tasks.submit(update.pk) == Submission.State.ACCEPTED
    case.refresh_from_db()
    assert case.status == Status.SUBMITTED
    assert ("submit", case.pk, update.idempotency_key, first.idempotency_key) in scripted.calls

    actions.case_cancel(case=case, actor=coordinator, reason="Patient moved away")
    cancel = case.submissions.get(kind=Submission.Kind.CANCEL)
    assert cancel.state == Submission.State.QUEUED  # an automated channel sends it itself
    assert tasks.submit(cancel.pk) == Submission.State.ACCEPTED
    cancel.refresh_from_db()
    assert cancel.outcome == DecisionStatus.CANCELLED and cancel.replaces_key == update.idempotency_key
