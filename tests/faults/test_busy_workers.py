"""Workers SIGKILLed inside their tasks: submit, poll, text and write-back (issue 21, 5).

Every payer call, EHR write and text takes 3 s at a real loopback peer, so a worker can be killed in the
middle of each; a killed worker's work is taken again after the (shortened) thresholds, and the
invariants hold: one request per case, each decision applied once and matching the payer, one text per
decision at the carrier, one write-back in the chart, nothing left mid-flight.
"""

import os
import signal
import time
from collections import Counter
from datetime import timedelta

import pytest
from django.utils import timezone

from cases.models import PriorAuthCase, Status
from integrations.submission.services import submission_request
from tests import factories as f
from tests.faults.conftest import SUPERVISE
from tests.faults.procs import alive, connected_to, running
from tests.faults.world import invariant_breaches, stuck_rows, world_add_case

# Which task a killed worker was inside, by the peer it was talking to.
# The schedules' batch senders (`send_due_texts`, `write_back_due`) send inline, one row after another: a worker
# inside one of them and connected to the carrier / the EHR is inside that call just the same (most texts go this
# way, so counting only `send_message` left the text kind uncaught in some runs).
KILLED_IN = {
    "integrations.submission.tasks.submit": "submit",
    "integrations.submission.tasks.poll_case": "poll",
    "integrations.sms_twilio.tasks.send_message": "text",
    "integrations.sms_twilio.tasks.send_due_texts": "text",
    "integrations.ehr_fhir.tasks.write_back": "write-back",
    "integrations.ehr_fhir.tasks.write_back_due": "write-back",
}
# From the last kill to every case decided with nothing mid-flight: the longest threshold (a sending
# submission, 20 s) + a tick (4 s) + the retried calls (3 s each) + the poll cadence, with room for
# this loaded two-core machine.
RECOVERY = 90

# The fault group: a real cluster on PostgreSQL; `-m faults` runs only it, `-m 'not faults'` skips it.
pytestmark = pytest.mark.faults


def _pull_polls_forward():
    # The payer's poll cadence (1 min) compressed: a submitted case waiting for its first regular
    # check is due now. A claimed case's lease (20 s) is left alone: a dead poller's lease must expire.
    now = timezone.now()
    PriorAuthCase.objects.filter(status=Status.SUBMITTED, next_poll_at__gt=now + timedelta(seconds=25)).update(
        next_poll_at=now
    )


@pytest.mark.django_db(transaction=True)
def test_workers_killed_inside_every_kind_of_task_leave_one_of_everything(world, supervised, ticking):
    # Given a supervised cluster; a payer that answers every call after 3 s and decides 5 s after receipt
    # (so each case is submitted, then decided by a poll), an EHR and a text carrier that answer after 3 s
    world.sandbox.timeout_rate, world.sandbox.timeout_seconds = 1.0, 3
    world.sandbox.approve_weight, world.sandbox.partial_weight, world.sandbox.deny_weight = 2, 1, 1
    world.sandbox.decision_delay_seconds = 5
    world.sandbox.save()
    # A text is the shortest call of the four: the carrier holds its answer longest, so it can be caught.
    world.carrier.delay = 5.0
    cluster = supervised(*SUPERVISE, env=world.env)
    cluster.wait_for(lambda: len(cluster.worker_pids()) >= 2, 90, "workers")
    ticking()
    actor = f.UserFactory(practice=world.practice, roles=["coordinator"])
    cases = [world_add_case(world, n) for n in range(1, 7)]
    for case in cases:
        submission_request(case=case, actor=actor)
    # The peer each kind of task calls: a worker is "inside the call" when connected to that one (a
    # connection to another peer may be a pooled keep-alive left from an earlier task).
    peer = {
        "submit": world.live_port,
        "poll": world.live_port,
        "text": world.carrier.port,
        "write-back": world.relay.port,
    }

    # When a worker is SIGKILLed inside each kind of task (at most two kills of each kind)
    kills: Counter = Counter()
    last_kill = time.monotonic()
    deadline = time.monotonic() + 150
    more_at = time.monotonic() + 30
    while time.monotonic() < deadline and not all(kills[k] >= 1 for k in KILLED_IN.values()):
        _pull_polls_forward()
        if time.monotonic() > more_at and len(cases) < 12:
            # A slow machine may finish the work before every kind was caught: more cases, more chances.
            for _ in range(2):
                cases.append(world_add_case(world, len(cases) + 1))
                submission_request(case=cases[-1], actor=actor)
            more_at = time.monotonic() + 30
        for pid in cluster.worker_pids():
            kind = KILLED_IN.get(running(pid))
            if kind and kills[kind] < 2 and alive(pid) and connected_to(pid, {peer[kind]}):
                os.kill(pid, signal.SIGKILL)
                kills[kind] += 1
                last_kill = time.monotonic()
        time.sleep(0.2)
    assert all(kills[k] >= 1 for k in KILLED_IN.values()), f"not every kind of task was caught mid-call: {kills}"

    # Then within the recovery time every case has the payer's decision, applied once, with one text and
    # one write-back, and nothing is left mid-flight
    ids = [c.pk for c in cases]

    def settled():
        _pull_polls_forward()
        return not invariant_breaches(ids, texts_at_carrier=world.carrier.texts())

    while time.monotonic() < last_kill + RECOVERY and not settled():
        time.sleep(1)
    assert invariant_breaches(ids, texts_at_carrier=world.carrier.texts()) == [], (kills, cluster.text()[-3000:])
    assert stuck_rows(ids) == []
