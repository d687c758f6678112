"""A payer's answer never moves a case backwards (issue 21, 4): an answer about a request other than the
newest one the payer acknowledged, or not newer than the last one applied, is recorded and not applied."""

from datetime import timedelta

from django.utils import timezone

from cases import actions
from cases.decisions import decision_apply
from cases.models import CaseEvent, Status, Task
from integrations.base import DecisionStatus, PayerDecision
from integrations.submission import tasks
from integrations.submission.models import CaseTracking
from integrations.submission.polling import case_poll
from tests.integrations.submission.conftest import ready_case


def _pended(practice, provider, coordinator, scripted, when):
    case = ready_case(practice, provider, channel="scripted")
    practice.submission_requires_approval = False
    practice.save()
    first = actions.case_submit(case=case, actor=coordinator)
    tasks.submit(first.pk)
    pended = PayerDecision(status=DecisionStatus.PENDED, decided_at=when, info_requested=("Send the MRI report",))
    scripted.script[case.pk] = {"status": pended}
    assert case_poll(case_id=case.pk) == DecisionStatus.PENDED
    case.refresh_from_db()
    return case, first, pended


def _clinician_tasks(case):
    return Task.objects.filter(case=case, kind=Task.Kind.ANSWER_INFO_REQUEST).count()


def test_a_poll_overtaken_by_an_update_does_not_pend_the_case_again(
    practice, owner_provider, coordinator, scripted, monkeypatch
):
    # Given a pended case
    t0 = timezone.now() - timedelta(hours=2)
    case, first, pended = _pended(practice, owner_provider, coordinator, scripted, t0)
    tasks_before = _clinician_tasks(case)
    update = actions.case_send_update(case=case, actor=coordinator, message="MRI report: no fracture.")
    real_check = scripted.check_status

    # When a poll asks about the first request, and staff's update is acknowledged while it waits
    def slow_check(self, case, *, submission_key):
        answer = real_check(self, case, submission_key=submission_key)
        if submission_key == first.idempotency_key:
            scripted.script[case.pk] = {}
            assert tasks.submit(update.pk) == "accepted"
            scripted.script[case.pk] = {"status": pended}
        return answer

    monkeypatch.setattr(scripted, "check_status", slow_check)
    case_poll(case_id=case.pk)
    # Then the old "pended" answer is not applied: the case stays submitted, no second clinician task
    case.refresh_from_db()
    assert case.status == Status.SUBMITTED
    assert _clinician_tasks(case) == tasks_before
    # And it is recorded
    assert CaseEvent.objects.filter(case=case, message__contains="not applied").exists()


def test_an_answer_not_newer_than_the_last_applied_is_not_applied(practice, owner_provider, coordinator, scripted):
    # Given a case the payer decided at t0, submitted again (the move staff make by hand)
    t0 = timezone.now() - timedelta(hours=2)
    case, first, pended = _pended(practice, owner_provider, coordinator, scripted, t0)
    update = actions.case_send_update(case=case, actor=coordinator, message="MRI report")
    scripted.script[case.pk] = {}
    tasks.submit(update.pk)
    case.refresh_from_db()
    assert case.status == Status.SUBMITTED
    # When an answer about the newest request arrives carrying the same timestamp as the one applied
    event = decision_apply(case=case, decision=pended, source="poll", asked_key=update.idempotency_key)
    # Then it is not applied
    assert event is None
    case.refresh_from_db()
    assert case.status == Status.SUBMITTED


def test_acknowledging_an_update_records_its_tracking_time(practice, owner_provider, coordinator, scripted):
    # Given a pended case whose payer's clock said t0
    t0 = timezone.now() - timedelta(hours=2)
    case, first, pended = _pended(practice, owner_provider, coordinator, scripted, t0)
    update = actions.case_send_update(case=case, actor=coordinator, message="MRI report")
    scripted.script[case.pk] = {}
    # When the payer acknowledges the update
    tasks.submit(update.pk)
    # Then answers from before it was sent are older than what the case knows
    tracking = CaseTracking.objects.get(case=case)
    assert tracking.last_decision_at > t0
    # And an answer the payer made about the update afterwards is applied
    later = PayerDecision(status=DecisionStatus.APPROVED, decided_at=timezone.now() + timedelta(seconds=1))
    assert decision_apply(case=case, decision=later, source="poll", asked_key=update.idempotency_key) is not None


def test_the_same_rule_for_a_person_recording_an_answer(practice, owner_provider, coordinator, scripted):
    # A coordinator's answer is newer than anything applied: the one path applies it.
    t0 = timezone.now() - timedelta(hours=2)
    case, first, pended = _pended(practice, owner_provider, coordinator, scripted, t0)
    update = actions.case_send_update(case=case, actor=coordinator, message="MRI report")
    scripted.script[case.pk] = {}
    tasks.submit(update.pk)
    event = actions.case_record_outcome(
        case=case,
        actor=coordinator,
        outcome="approved",
        authorization_number="A1",
        effective_start=timezone.localdate(),
    )
    assert event is not None
    case.refresh_from_db()
    assert case.status == Status.APPROVED
