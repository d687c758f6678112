"""Staff may send a request outside its payer's automated channel; the engine keeps track of it.

After an automated send fails for good, the coordinator's task says "submit by
hand": recording that the payer has it moves the case on and it is followed
up by a person from then on. Information faxed for a request the payer holds
through its API leaves the API in charge: it is still asked about the request
it has.
"""

from django.utils import timezone

from cases import actions
from cases.models import Status, Task
from integrations.base import DecisionStatus, IntegrationError, PayerDecision
from integrations.submission import tasks
from integrations.submission.models import Submission
from integrations.submission.polling import case_poll
from tests.integrations.submission.channels import ScriptedChannel
from tests.integrations.submission.conftest import ready_case


def test_a_request_sent_by_hand_after_the_channel_failed_is_followed_up_by_a_person(
    practice, owner_provider, coordinator, scripted, monkeypatch
):
    case = ready_case(practice, owner_provider, channel="scripted")
    practice.submission_requires_approval = False
    practice.save()

    def refuse(self, case, **kwargs):
        raise IntegrationError("payer refused the request's shape", permanent=True)

    monkeypatch.setattr(ScriptedChannel, "submit", refuse)
    first = actions.case_submit(case=case, actor=coordinator)
    assert tasks.submit(first.pk) == Submission.State.FAILED
    assert case.tasks.filter(kind=Task.Kind.SUBMIT, done_at__isnull=True).exists()  # "submit by hand"

    actions.case_record_outcome(case=case, actor=coordinator, outcome="submitted", payer_reference="FAX-9")
    case.refresh_from_db()
    by_hand = case.submissions.get(state=Submission.State.ACCEPTED)
    assert case.status == Status.SUBMITTED and case.payer_tracking_id == "FAX-9"
    assert by_hand.channel == case.channel == "by_hand"
    assert not case.tasks.filter(kind=Task.Kind.SUBMIT, done_at__isnull=True).exists()
    # From now on a check is a person's follow-up, not a call the channel cannot answer.
    calls = len(scripted.calls)
    assert case_poll(case_id=case.pk) == "no change"
    assert len(scripted.calls) == calls
    assert case.tasks.filter(kind=Task.Kind.RECORD_OUTCOME, dedupe_key__startswith="follow-up-").exists()


def test_information_faxed_for_a_pended_request_leaves_its_channel_in_charge(
    practice, owner_provider, coordinator, scripted
):
    case = ready_case(practice, owner_provider, channel="scripted")
    practice.submission_requires_approval = False
    practice.save()
    first = actions.case_submit(case=case, actor=coordinator)
    tasks.submit(first.pk)
    scripted.script[case.pk] = {
        "status": PayerDecision(status=DecisionStatus.PENDED, decided_at=timezone.now(), info_requested=("MRI",))
    }
    case_poll(case_id=case.pk)
    case.refresh_from_db()
    assert case.status == Status.PENDED

    # The coordinator faxed the MRI report instead of pressing "send additional information".
    actions.case_record_outcome(case=case, actor=coordinator, outcome="submitted")
    case.refresh_from_db()
    faxed = case.submissions.get(kind=Submission.Kind.UPDATE)
    assert case.status == Status.SUBMITTED and case.channel == "scripted"
    assert faxed.channel == "by_hand" and faxed.replaces_key == first.idempotency_key
    # The next check asks the channel about the request it has.
    scripted.script[case.pk] = {}
    assert case_poll(case_id=case.pk) == "no change"
    assert scripted.calls[-1] == ("check", case.pk, first.idempotency_key, "")
