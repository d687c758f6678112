"""The whole X12 loop on PostgreSQL over real HTTP: eligibility, submit, pended, answered, polled by 278
inquiry on the payer's cadence, decided through cases.decisions — and cancelled."""

from datetime import timedelta

import pytest
from django.utils import timezone

from cases.actions import case_cancel
from cases.models import CaseEvent, Status, Task
from integrations.submission.models import Exchange, Submission
from integrations.submission.polling import case_poll
from integrations.submission.services import submission_record_by_hand, submission_request, submission_send
from integrations.x12_278.models import EligibilityCheck, Interchange, SandboxX12Request
from integrations.x12_278.sandbox import PEND_MESSAGE
from tests.integrations.x12_278.conftest import x12_case

pytestmark = pytest.mark.django_db(transaction=True)


def test_checked_submitted_pended_answered_polled_decided(
    sandboxed, route, practice, owner_provider, coordinator, settings, q_sync
):
    settings.X12_SANDBOX_PEND_SECONDS = 3600  # the payer waits for the information
    route.payer.poll_interval_hours = 6
    route.payer.save()
    # given a new X12 case: eligibility is asked when it opens
    case = x12_case(practice, owner_provider, route.payer, member_id="W7-A4", status=Status.NEW)
    assert case.eligibility_checks.get().result == EligibilityCheck.Result.ACTIVE
    case.status = Status.READY
    case.save(update_fields=["status"])  # (the gathering steps are other tests' business)

    # when it is submitted: the payer pends it at once, asking for notes
    sub = submission_request(case=case, actor=coordinator)
    sub.refresh_from_db()
    case.refresh_from_db()
    assert sub.state == Submission.State.ACCEPTED
    assert case.status == Status.PENDED
    ask = Task.objects.get(case=case, kind=Task.Kind.ANSWER_INFO_REQUEST)
    assert PEND_MESSAGE in ask.detail
    assert Interchange.objects.filter(case=case, kind="278").count() == 1

    # a poll while pended asks by 278 inquiry and changes nothing
    assert case_poll(case_id=case.pk) in ("no change", "pended")
    assert Interchange.objects.filter(case=case, kind="278i").count() == 1
    assert Exchange.objects.filter(case=case, operation="inquire").count() == 2  # the 270 and the 278 inquiry

    # the coordinator faxes the notes and records it: back to submitted, still the X12 channel
    submission_record_by_hand(case=case, actor=coordinator)
    case.refresh_from_db()
    assert case.status == Status.SUBMITTED and case.channel == "x12_278"
    # next check on the payer's cadence (6 h, or a quarter of the time left to the deadline)
    assert timezone.now() + timedelta(minutes=14) < case.next_poll_at <= timezone.now() + timedelta(hours=6, minutes=1)

    # when the payer has decided and the poll runs, then the inquiry's answer is applied once
    settings.X12_SANDBOX_PEND_SECONDS = 0
    assert case_poll(case_id=case.pk) == "approved"
    case.refresh_from_db()
    assert case.status == Status.APPROVED
    row = SandboxX12Request.objects.get(trace=sub.idempotency_key.upper())
    assert case.authorization_number == row.authorization_number
    assert case.auth_effective_start is not None and case.auth_effective_end is not None
    assert case.units_approved == 6
    assert Task.objects.filter(case=case, kind=Task.Kind.RESCHEDULE).count() == 1
    assert case.events.filter(kind=CaseEvent.Kind.STATUS, to_status=Status.APPROVED).count() == 1
    # the inquiry is the X215 guide, answered under the request's own trace number
    assert Interchange.objects.filter(case=case, kind="278i").count() == 2
    assert case_poll(case_id=case.pk) == "not awaiting"


def test_every_decision_kind_reaches_the_case(sandboxed, route, practice, owner_provider, coordinator, q_sync):
    route.eligibility = False
    route.save()
    expected = {
        "A1": Status.APPROVED,
        "A2": Status.PARTIALLY_APPROVED,
        "A3": Status.DENIED,
        "A6": Status.PARTIALLY_APPROVED,
        "NA": Status.NOT_REQUIRED,
        "CT": Status.SUBMITTED,
    }
    for code, status in expected.items():
        case = x12_case(practice, owner_provider, route.payer, member_id=f"W8{code}-{code}")
        submission_request(case=case, actor=coordinator)
        case.refresh_from_db()
        assert case.status == status, code
    contact = Task.objects.filter(title__startswith="Payer asks you to call")
    assert contact.count() == 1
    denied = Task.objects.filter(kind=Task.Kind.WORK_DENIAL, case__status=Status.DENIED).get()
    assert denied.case.denial_reason_code == "0U"
    assert "CONSERVATIVE THERAPY NOT DOCUMENTED" in denied.case.denial_reason_text


def test_cancelled_case_is_withdrawn_with_a_278_cancel(sandboxed, route, practice, owner_provider, coordinator):
    route.eligibility = False
    route.save()
    case = x12_case(practice, owner_provider, route.payer, member_id="W6-A4")
    sub = submission_request(case=case, actor=coordinator)
    submission_send(submission_id=sub.pk)
    case.refresh_from_db()
    assert case.status == Status.PENDED
    case_cancel(case=case, actor=coordinator, reason="Order withdrawn")
    cancel = Submission.objects.get(case=case, kind=Submission.Kind.CANCEL)
    submission_send(submission_id=cancel.pk)
    cancel.refresh_from_db()
    assert cancel.state == Submission.State.ACCEPTED and cancel.outcome == "cancelled"
    sent = Interchange.objects.get(kind="278c")
    assert "BHT*0007*01*" in sent.payload and "UM*HS*3*" in sent.payload
    assert f"TRN*1*{sub.idempotency_key.upper()}*" in sent.payload  # the request's own trace
    assert SandboxX12Request.objects.get(trace=sub.idempotency_key.upper()).action == "C"
