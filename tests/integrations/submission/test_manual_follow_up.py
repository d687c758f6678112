"""A request sent by hand (fax, portal, X12 keyed in by staff) is followed up on its payer's cadence.

With no answer recorded by the payer's follow-up time, a coordinator gets a
task to check with the payer — once per interval, never two open at once —
and a pended case (the payer waits for us) gets none.
"""

from datetime import UTC, datetime, timedelta

import pytest

from cases import actions
from cases.models import Status, Task
from integrations.submission.models import Submission
from integrations.submission.polling import case_poll, poll_claim_due
from tests.integrations.submission.conftest import ready_case

T0 = datetime(2026, 12, 1, 14, 0, tzinfo=UTC)


def _follow_ups(case):
    return Task.objects.filter(case=case, kind=Task.Kind.RECORD_OUTCOME, dedupe_key__startswith="follow-up-")


def _check_due(case) -> list[int]:
    ids = poll_claim_due()
    for pk in ids:
        case_poll(case_id=pk)
    return ids


# Fax is sent by the fax service and X12 by the clearinghouse now (their own tests); these are worked by hand.
@pytest.mark.parametrize("channel", ["portal", "epa", "none"])
def test_no_answer_by_the_follow_up_time_makes_one_task_per_interval(
    channel, time_machine, practice, owner_provider, coordinator
):
    time_machine.move_to(T0, tick=False)
    case = ready_case(practice, owner_provider, channel=channel, follow_up_hours=48)
    practice.submission_requires_approval = False
    practice.save()
    submission = actions.case_submit(case=case, actor=coordinator)
    assert submission.state == Submission.State.WITH_STAFF
    actions.case_record_outcome(case=case, actor=coordinator, outcome="submitted", payer_reference="REF-77")
    case.refresh_from_db()
    assert case.status == Status.SUBMITTED and case.next_poll_at == T0 + timedelta(hours=48)

    time_machine.move_to(T0 + timedelta(hours=47), tick=False)
    assert _check_due(case) == [] and not _follow_ups(case).exists()

    time_machine.move_to(T0 + timedelta(hours=48), tick=False)
    assert _check_due(case) == [case.pk]
    (task,) = _follow_ups(case)
    assert task.title == f"No answer from {case.payer} yet: check on the request" and "REF-77" in task.detail
    assert task.role == "coordinator" and task.due_at == T0 + timedelta(hours=72)
    # Checked again in the same interval (a redelivered task, a second scheduler): nothing new.
    type(case).objects.filter(pk=case.pk).update(next_poll_at=T0 + timedelta(hours=48))
    assert _check_due(case) == [case.pk] and _follow_ups(case).count() == 1

    # Next interval while the first is still open: no pile-up.
    time_machine.move_to(T0 + timedelta(hours=96), tick=False)
    assert _check_due(case) == [case.pk] and _follow_ups(case).count() == 1
    # Once the coordinator has done it, the next interval gets a new one.
    actions.task_complete(task=task, actor=coordinator)
    time_machine.move_to(T0 + timedelta(hours=144), tick=False)
    assert _check_due(case) == [case.pk] and _follow_ups(case).count() == 2

    # The payer's answer, recorded by hand, closes the open follow-up and takes the case off the poll index.
    actions.case_record_outcome(
        case=case,
        actor=coordinator,
        outcome="denied",
        denial_reason_code="CO-50",
        denial_reason_text="Not medically necessary",
    )
    case.refresh_from_db()
    assert case.status == Status.DENIED
    assert not _follow_ups(case).filter(done_at__isnull=True).exists()
    time_machine.move_to(T0 + timedelta(hours=300), tick=False)
    assert case.pk not in _check_due(case)


def test_a_pended_case_sent_by_hand_waits_on_us_not_the_payer(time_machine, practice, owner_provider, coordinator):
    time_machine.move_to(T0, tick=False)
    case = ready_case(practice, owner_provider, channel="portal", follow_up_hours=24)
    practice.submission_requires_approval = False
    practice.save()
    actions.case_submit(case=case, actor=coordinator)
    actions.case_record_outcome(case=case, actor=coordinator, outcome="pended", note="Send the sleep study")
    case.refresh_from_db()
    assert case.status == Status.PENDED
    time_machine.move_to(T0 + timedelta(hours=30), tick=False)
    _check_due(case)
    assert not _follow_ups(case).exists()
    assert case.tasks.filter(kind=Task.Kind.ANSWER_INFO_REQUEST, done_at__isnull=True).exists()
