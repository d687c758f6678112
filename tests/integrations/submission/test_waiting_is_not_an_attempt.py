"""Waiting for a paused payer is not an attempt, and the timeline says so once (issue 21, 3)."""

from datetime import timedelta

from django.utils import timezone

from cases import actions
from cases.models import CaseEvent, Status
from integrations.base import IntegrationError
from integrations.submission.models import PayerLink, Submission
from integrations.submission.services import SUBMIT_MAX_ATTEMPTS, submission_send
from tests.integrations.submission.conftest import ready_case


def _queued(practice, provider, coordinator):
    case = ready_case(practice, provider, channel="scripted")
    practice.submission_requires_approval = False
    practice.save()
    return case, actions.case_submit(case=case, actor=coordinator)


def _due(submission):
    Submission.objects.filter(pk=submission.pk).update(next_attempt_at=timezone.now() - timedelta(seconds=1))


def _pause(payer):
    PayerLink.objects.update_or_create(
        payer=payer,
        defaults={"breaker_state": PayerLink.Breaker.OPEN, "open_until": timezone.now() + timedelta(hours=1)},
    )


def test_pauses_do_not_use_up_attempts_and_are_one_timeline_line(practice, owner_provider, coordinator, scripted):
    # Given a queued submission and a payer whose breaker is open
    case, submission = _queued(practice, owner_provider, coordinator)
    _pause(case.payer)
    events_before = CaseEvent.objects.filter(case=case).count()
    # When the worker meets the pause more times than a submission has attempts
    for _ in range(SUBMIT_MAX_ATTEMPTS + 4):
        _due(submission)
        submission_send(submission_id=submission.pk)
    submission.refresh_from_db()
    # Then no attempt was used and it still waits
    assert submission.attempts == 0 and submission.state == Submission.State.RETRY
    assert scripted.calls == []
    # And the timeline says once that the payer is paused
    lines = list(CaseEvent.objects.filter(case=case).values_list("message", flat=True)[:100])
    assert CaseEvent.objects.filter(case=case).count() == events_before + 1, lines
    assert any("paused" in line for line in lines)

    # When the payer comes back, a real failure is the first attempt, not the eleventh
    def down(self, case, **kw):
        raise IntegrationError("payer answered HTTP 503")

    PayerLink.objects.filter(payer=case.payer).update(breaker_state=PayerLink.Breaker.CLOSED, open_until=None)
    scripted_submit = scripted.submit
    scripted.submit = down
    try:
        _due(submission)
        submission_send(submission_id=submission.pk)
    finally:
        scripted.submit = scripted_submit
    submission.refresh_from_db()
    assert submission.attempts == 1 and submission.state == Submission.State.RETRY


def test_resuming_after_a_pause_is_one_timeline_line(practice, owner_provider, coordinator, scripted):
    case, submission = _queued(practice, owner_provider, coordinator)
    _pause(case.payer)
    for _ in range(3):
        _due(submission)
        submission_send(submission_id=submission.pk)
    PayerLink.objects.filter(payer=case.payer).update(breaker_state=PayerLink.Breaker.CLOSED, open_until=None)
    _due(submission)
    submission = submission_send(submission_id=submission.pk)
    assert submission.state == Submission.State.ACCEPTED and submission.attempts == 1
    case.refresh_from_db()
    assert case.status == Status.SUBMITTED
    messages = list(CaseEvent.objects.filter(case=case).values_list("message", flat=True))
    assert sum("paused" in m for m in messages) == 1, messages
    assert sum("resumed" in m for m in messages) == 1, messages
