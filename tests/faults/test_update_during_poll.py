"""An update acknowledged while a poll is in flight (issue 21, 4 and 5), on the real cluster.

The payer's answer to the poll ("pended", about the request the update replaces) comes back after the
update was acknowledged: it is recorded, not applied. The case does not go back to pended, and the
patient gets no second "more information needed" text, the clinician no second task.
"""

from datetime import timedelta

import pytest
from django.utils import timezone

from cases.models import CaseEvent, PriorAuthCase, Status, Task
from integrations.sms_twilio.models import OutboundMessage
from integrations.submission.models import Submission
from integrations.submission.services import submission_request
from tests import factories as f
from tests.faults.conftest import SUPERVISE
from tests.faults.peers import Relay
from tests.faults.procs import alive, connected_to, running
from tests.faults.world import world_add_case

# The fault group: a real cluster on PostgreSQL; `-m faults` runs only it, `-m 'not faults'` skips it.
pytestmark = pytest.mark.faults


@pytest.mark.django_db(transaction=True)
def test_a_pended_answer_to_a_poll_overtaken_by_an_update_is_not_applied(world, live_server, supervised, ticking):
    # Given a case the payer pended (on receipt), on a supervised cluster; the payer's $inquire answers
    # are held 4 s on the way back (its $submit answers are not)
    world.sandbox.approve_weight, world.sandbox.pend_weight = 0, 1
    world.sandbox.save()
    world.relay.delay = world.carrier.delay = 0
    relay = Relay(live_server.url, delay=4.0, slow_paths=("$inquire",))
    world.payer.fhir_base_url = f"{relay.url}/sandbox/payer/{world.sandbox.slug}/fhir"
    world.payer.save()
    cluster = supervised(*SUPERVISE, env=world.env)
    cluster.wait_for(lambda: len(cluster.worker_pids()) >= 2, 90, "workers")
    ticking()
    actor = f.UserFactory(practice=world.practice, roles=["coordinator"])
    case = world_add_case(world, 1)
    submission_request(case=case, actor=actor)
    cluster.wait_for(
        lambda: OutboundMessage.objects.filter(case=case, twilio_sid__isnull=False).exists(), 90, "the pended text"
    )
    assert PriorAuthCase.objects.get(pk=case.pk).status == Status.PENDED
    # (the payer will decide the update later, so its acknowledgement is "submitted, pending")
    world.sandbox.decision_delay_seconds = 3600
    world.sandbox.save()

    # When a poll asks about the pended request and, while its answer is on the way back, staff's update
    # is sent and acknowledged
    PriorAuthCase.objects.filter(pk=case.pk).update(next_poll_at=timezone.now())

    def polling():
        return any(
            alive(pid) and running(pid).endswith(".poll_case") and connected_to(pid, {relay.port})
            for pid in cluster.worker_pids()
        )

    cluster.wait_for(polling, 30, "a poll in flight")
    submission_request(case=case, actor=actor, message="Office note attached.")
    cluster.wait_for(
        lambda: Submission.objects.filter(case=case, kind=Submission.Kind.UPDATE, state="accepted").exists(),
        30,
        "the update acknowledged",
    )
    # Then the poll's "pended" is recorded as not applied, and the case stays submitted
    cluster.wait_for(
        lambda: CaseEvent.objects.filter(case=case, message__contains="not applied").exists(),
        30,
        "the poll's answer",
    )
    case.refresh_from_db()
    assert case.status == Status.SUBMITTED
    moves = list(
        CaseEvent.objects.filter(case=case, kind=CaseEvent.Kind.STATUS)
        .order_by("pk")
        .values_list("to_status", flat=True)
    )
    assert moves == [Status.SUBMITTED, Status.PENDED, Status.SUBMITTED]
    assert OutboundMessage.objects.filter(case=case).count() == 1
    assert world.carrier.texts()[case.patient.mobile_phone] == 1
    assert Task.objects.filter(case=case, kind=Task.Kind.ANSWER_INFO_REQUEST).count() == 1
    # and the update was acknowledged before that answer came back (the interleaving really happened)
    update = Submission.objects.get(case=case, kind=Submission.Kind.UPDATE)
    stale = CaseEvent.objects.get(case=case, message__contains="not applied")
    assert update.accepted_at < stale.created_at < update.accepted_at + timedelta(seconds=30)
    relay.close()
