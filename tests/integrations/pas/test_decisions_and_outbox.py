"""Applying decisions: exactly once, out of order ignored, outcome branching, outbox rows once."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from cases.decisions import decision_apply
from cases.models import CaseEvent, Role, Status, Task
from integrations.base import ChannelBase, PayerDecision
from integrations.base import DecisionStatus as D
from integrations.ehr_fhir.models import WriteBack
from integrations.pas.parse import parse_claim_response
from integrations.submission import cadence
from integrations.submission.polling import case_poll
from tests.integrations.pas.conftest import PAS2_DIR, load


@pytest.fixture
def submitted(pas_case):
    pas_case.status = Status.SUBMITTED
    pas_case.next_poll_at = timezone.now()
    pas_case.save()
    return pas_case


def test_same_decision_twice_changes_the_case_once(submitted):
    decision = parse_claim_response(load(PAS2_DIR / "pas2-approved.json"))
    assert decision_apply(case=submitted, decision=decision, source="poll") is not None
    assert decision_apply(case=submitted, decision=decision, source="poll") is None
    submitted.refresh_from_db()
    assert submitted.status == Status.APPROVED and submitted.authorization_number == "AUTH-778812"
    assert submitted.events.filter(kind=CaseEvent.Kind.STATUS, to_status=Status.APPROVED).count() == 1
    assert WriteBack.objects.filter(case=submitted).count() == 1
    assert Task.objects.filter(case=submitted, kind=Task.Kind.RESCHEDULE).count() == 1


def test_older_answer_after_a_newer_one_is_ignored(submitted):
    pended = parse_claim_response(load(PAS2_DIR / "pas2-pended.json"))
    decision_apply(case=submitted, decision=pended, source="poll")
    submitted.refresh_from_db()
    assert submitted.status == Status.PENDED
    stale = replace(pended, status=D.DENIED, decided_at=pended.decided_at - timedelta(hours=1))
    assert decision_apply(case=submitted, decision=stale, source="poll") is None
    submitted.refresh_from_db()
    assert submitted.status == Status.PENDED


def test_pended_task_goes_to_the_ordering_clinician_with_the_exact_request(submitted, owner_clinician):
    decision_apply(case=submitted, decision=parse_claim_response(load(PAS2_DIR / "pas2-pended.json")), source="poll")
    task = Task.objects.get(case=submitted, kind=Task.Kind.ANSWER_INFO_REQUEST)
    assert task.assignee == owner_clinician
    assert "functional limitation (last 30 days)" in task.detail and task.due_at is not None
    submitted.refresh_from_db()
    assert submitted.next_poll_at is not None  # still asked about while pended


def test_denial_makes_staff_and_peer_to_peer_tasks_with_the_appeal_deadline(submitted):
    decision_apply(case=submitted, decision=parse_claim_response(load(PAS2_DIR / "pas2-denied.json")), source="poll")
    submitted.refresh_from_db()
    assert submitted.status == Status.DENIED and submitted.denial_reason_code == "MN01"
    assert submitted.appeal_deadline == timezone.localdate() + timedelta(days=submitted.payer.appeal_window_days)
    kinds = set(Task.objects.filter(case=submitted).values_list("kind", flat=True))
    assert {Task.Kind.WORK_DENIAL, Task.Kind.PEER_TO_PEER} <= kinds
    assert Task.Kind.ESCALATION not in kinds  # the reason was specific


def test_unspecific_denial_is_flagged(submitted):
    decision = PayerDecision(status=D.DENIED, reason_text="Denied", review_action_code="A3")
    decision_apply(case=submitted, decision=decision, source="poll")
    assert submitted.events.filter(kind=CaseEvent.Kind.ESCALATION, details__flag="unspecific_denial").count() == 1
    assert Task.objects.filter(case=submitted, kind=Task.Kind.ESCALATION, role=Role.MANAGER).count() == 1


def test_still_pending_sets_the_next_poll_and_changes_nothing(submitted):
    before = submitted.events.count()
    decision = parse_claim_response(load(PAS2_DIR / "pas2-queued.json"))
    assert decision_apply(case=submitted, decision=decision, source="poll") is None
    submitted.refresh_from_db()
    assert submitted.status == Status.SUBMITTED and submitted.events.count() == before
    assert submitted.next_poll_at > timezone.now() + timedelta(minutes=14)


def test_contact_payer_makes_one_task_however_often_polled(submitted):
    decision = parse_claim_response(load(PAS2_DIR / "pas2-contact-payer.json"))
    decision_apply(case=submitted, decision=decision, source="poll")
    decision_apply(case=submitted, decision=decision, source="poll")
    assert Task.objects.filter(case=submitted, kind=Task.Kind.RECORD_OUTCOME).count() == 1


def test_retried_poll_task_does_each_side_effect_once(submitted, monkeypatch):
    patient = submitted.patient
    patient.mobile_phone, patient.sms_consent = "+15555550123", True
    patient.save()
    decision = parse_claim_response(load(PAS2_DIR / "pas2-approved.json"))

    class Channel(ChannelBase):
        def check_status(self, case, *, submission_key):
            return decision

    monkeypatch.setattr("integrations.submission.polling.get_channel", lambda name: Channel())
    from integrations.sms_twilio.models import OutboundMessage

    assert case_poll(case_id=submitted.pk) == "approved"
    submitted.next_poll_at = timezone.now()  # the task is redelivered
    assert case_poll(case_id=submitted.pk) == "not awaiting"
    assert WriteBack.objects.filter(case=submitted).count() == 1
    assert OutboundMessage.objects.filter(case=submitted).count() == 1
    assert Task.objects.filter(case=submitted, kind=Task.Kind.RESCHEDULE).count() == 1


def test_malformed_answer_changes_no_case(submitted, monkeypatch):
    bad = load(PAS2_DIR / "pas2-approved.json")
    bad["entry"].pop(1)  # the patient the ClaimResponse references

    class Channel(ChannelBase):
        def check_status(self, case, *, submission_key):
            return parse_claim_response(bad)

    monkeypatch.setattr("integrations.submission.polling.get_channel", lambda name: Channel())
    assert case_poll(case_id=submitted.pk) == "error"
    submitted.refresh_from_db()
    assert submitted.status == Status.SUBMITTED and not submitted.authorization_number
    assert submitted.next_poll_at > timezone.now()
    assert "Unreadable ClaimResponse" in submitted.events.first().message
    assert not WriteBack.objects.filter(case=submitted).exists()
    assert submitted.payer.channel_link.consecutive_failures == 0  # the payer answered: not an outage


def test_poll_cadence_follows_payer_and_tightens_near_the_deadline(submitted):
    now = datetime(2026, 3, 10, 12, tzinfo=UTC)
    submitted.decision_due_at = now + timedelta(days=7)
    assert cadence.poll_next_at(case=submitted, now=now) == now + timedelta(hours=8)
    submitted.decision_due_at = now + timedelta(hours=8)
    assert cadence.poll_next_at(case=submitted, now=now) == now + timedelta(hours=2)
    submitted.decision_due_at = now + timedelta(minutes=20)
    assert cadence.poll_next_at(case=submitted, now=now) == now + timedelta(minutes=15)
    submitted.decision_due_at = now - timedelta(hours=1)
    assert cadence.poll_next_at(case=submitted, now=now) == now + timedelta(hours=1)
