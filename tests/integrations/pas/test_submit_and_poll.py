"""The loop over real HTTP against the app's own sandbox payer (live_server)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from cases.models import CaseEvent, Status, Task
from integrations.ehr_fhir.models import WriteBack
from integrations.pas.models import SandboxClaim
from integrations.submission.models import Exchange, Submission
from integrations.submission.polling import case_poll, poll_claim_due
from integrations.submission.services import SubmissionRefused, submission_request, submission_send

pytestmark = pytest.mark.django_db(transaction=True)


def test_submit_then_decision_at_once(sandboxed, pas_case, coordinator, q_sync):
    sub = submission_request(case=pas_case, actor=coordinator)  # q sync: sent on commit
    sub.refresh_from_db()
    pas_case.refresh_from_db()
    assert sub.state == Submission.State.ACCEPTED
    assert sub.payer_tracking_id.startswith("SBX-")
    # The sandbox decided at once (delay 0): submitted, then approved with the authorization.
    assert pas_case.status == Status.APPROVED
    assert pas_case.authorization_number.startswith("AUTH-")
    assert pas_case.auth_effective_start is not None and pas_case.units_approved == 1
    assert pas_case.next_poll_at is None
    moves = list(pas_case.events.filter(kind=CaseEvent.Kind.STATUS).values_list("to_status", flat=True))
    assert moves[:2] == [Status.APPROVED, Status.SUBMITTED]
    assert Exchange.objects.filter(case=pas_case, operation="submit", result="ok").count() == 1
    assert Task.objects.filter(case=pas_case, kind=Task.Kind.RESCHEDULE).count() == 1
    # The EHR app's outbox rows: "submitted", then the decision (one chart entry, updated).
    assert list(WriteBack.objects.filter(case=pas_case).order_by("pk").values_list("decision", flat=True)) == [
        Status.SUBMITTED,
        Status.APPROVED,
    ]


def test_queued_then_decided_by_poll(sandboxed, pas_case, coordinator):
    sandboxed.decision_delay_seconds = 3600
    sandboxed.approve_weight, sandboxed.deny_weight = 0, 1
    sandboxed.save()
    sub = submission_request(case=pas_case, actor=coordinator)
    submission_send(submission_id=sub.pk)
    pas_case.refresh_from_db()
    assert pas_case.status == Status.SUBMITTED and pas_case.next_poll_at is not None
    assert case_poll(case_id=pas_case.pk) == "no change"  # still queued
    SandboxClaim.objects.update(decide_at=timezone.now() - timedelta(seconds=1))
    assert case_poll(case_id=pas_case.pk) == "denied"
    pas_case.refresh_from_db()
    assert pas_case.status == Status.DENIED
    assert pas_case.appeal_deadline is not None
    assert Task.objects.filter(case=pas_case, kind=Task.Kind.WORK_DENIAL).count() == 1
    # Polling again (a retried task) changes nothing and makes no second task or write-back.
    assert case_poll(case_id=pas_case.pk) == "not awaiting"
    assert Task.objects.filter(case=pas_case, kind=Task.Kind.WORK_DENIAL).count() == 1
    assert WriteBack.objects.filter(case=pas_case).count() == 2  # submitted, denied


def test_double_click_makes_one_submission(sandboxed, pas_case, coordinator, manager):
    first = submission_request(case=pas_case, actor=coordinator)
    second = submission_request(case=pas_case, actor=manager)
    assert first.pk == second.pk
    assert Submission.objects.filter(case=pas_case).count() == 1


def test_503_retries_with_backoff_then_goes_through(sandboxed, pas_case, coordinator):
    sandboxed.error_rate = 1.0
    sandboxed.save()
    sub = submission_request(case=pas_case, actor=coordinator)
    submission_send(submission_id=sub.pk)
    sub.refresh_from_db()
    assert sub.state == Submission.State.RETRY and "503" in sub.error
    assert sub.next_attempt_at > timezone.now()
    assert submission_send(submission_id=sub.pk) is None  # not due yet
    sandboxed.error_rate = 0.0
    sandboxed.save()
    Submission.objects.filter(pk=sub.pk).update(next_attempt_at=timezone.now())
    submission_send(submission_id=sub.pk)
    sub.refresh_from_db()
    assert sub.state == Submission.State.ACCEPTED
    # The retry asked first ($inquire), found nothing, then submitted once.
    ops = list(Exchange.objects.filter(case=pas_case).order_by("pk").values_list("operation", "result"))
    assert ops == [("submit", "error"), ("inquire", "ok"), ("submit", "ok")]
    assert SandboxClaim.objects.count() == 1


def test_lost_answer_is_adopted_not_resubmitted(sandboxed, pas_case, coordinator):
    sub = submission_request(case=pas_case, actor=coordinator)
    submission_send(submission_id=sub.pk)
    # Pretend the worker died after the payer accepted: the row is back to retry.
    Submission.objects.filter(pk=sub.pk).update(state=Submission.State.RETRY, next_attempt_at=timezone.now())
    pas_case.refresh_from_db()
    assert SandboxClaim.objects.count() == 1
    submission_send(submission_id=sub.pk)
    assert Exchange.objects.filter(case=pas_case, operation="submit").count() == 1
    assert SandboxClaim.objects.count() == 1


def test_permanent_refusal_fails_with_a_task(sandboxed, pas_case, coordinator, settings):
    sub = submission_request(case=pas_case, actor=coordinator)
    pas_case.payer.fhir_base_url = pas_case.payer.fhir_base_url.replace("/harbor/", "/nobody/")
    pas_case.payer.save()
    submission_send(submission_id=sub.pk)
    sub.refresh_from_db()
    pas_case.refresh_from_db()
    assert sub.state == Submission.State.FAILED and "HTTP 404" in sub.error
    assert pas_case.status == Status.READY
    assert Task.objects.filter(case=pas_case, kind=Task.Kind.SUBMIT).count() == 1


def test_case_not_ready_is_refused(pas_case, coordinator):
    pas_case.status = Status.GATHERING
    pas_case.save()
    with pytest.raises(SubmissionRefused):
        submission_request(case=pas_case, actor=coordinator)


def test_claim_skips_cases_not_awaiting_and_leases(pas_case, postgres_only):
    now = timezone.now()
    pas_case.status = Status.SUBMITTED
    pas_case.next_poll_at = now - timedelta(minutes=1)
    pas_case.save()
    assert poll_claim_due(now=now) == [pas_case.pk]
    assert poll_claim_due(now=now) == []  # leased


def test_case_submit_on_a_pas_case_creates_one_submission(pas_case, coordinator, manager):
    from django_q.models import OrmQ

    from cases.actions import case_approve_submission, case_submit

    case_approve_submission(case=pas_case, actor=manager)
    first = case_submit(case=pas_case, actor=coordinator)
    second = case_submit(case=pas_case, actor=coordinator)
    assert isinstance(first, Submission) and first.pk == second.pk
    assert OrmQ.objects.count() == 1  # one send enqueued, after commit
    assert not Task.objects.filter(case=pas_case, kind=Task.Kind.SUBMIT).exists()
