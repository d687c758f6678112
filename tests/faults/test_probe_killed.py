"""A half-open probe whose worker is SIGKILLed during the payer call (issue 21, 2 and 5).

The probe never reports an outcome; after HALF_OPEN_LIMIT (12 s here, 3 min in production) the breaker
opens again with the next cool-down, the payer gets calls again, and every case completes once.
"""

import os
import signal
from datetime import timedelta

import pytest
from django.utils import timezone

from integrations.submission.models import PayerLink
from integrations.submission.services import submission_request
from tests import factories as f
from tests.faults.conftest import FAULT_ENV, SUPERVISE
from tests.faults.procs import alive, connected_to, running
from tests.faults.world import invariant_breaches, world_add_case

# The fault group: a real cluster on PostgreSQL; `-m faults` runs only it, `-m 'not faults'` skips it.
pytestmark = pytest.mark.faults

HALF_OPEN_LIMIT = int(FAULT_ENV["BREAKER_HALF_OPEN_LIMIT_SECONDS"])


@pytest.mark.django_db(transaction=True)
def test_a_probe_killed_mid_call_reopens_the_breaker_and_the_payer_is_called_again(world, supervised, ticking):
    # Given a payer whose breaker opened and cools down for 3 more seconds, a payer that takes 4 s to
    # answer, and three cases submitted meanwhile (they wait for the payer); the EHR and carrier answer at once
    world.sandbox.timeout_rate, world.sandbox.timeout_seconds = 1.0, 4
    world.sandbox.save()
    world.relay.delay = world.carrier.delay = 0
    PayerLink.objects.filter(payer=world.payer).update(
        breaker_state=PayerLink.Breaker.OPEN, open_until=timezone.now() + timedelta(seconds=3), times_opened=0
    )
    cluster = supervised(*SUPERVISE, env=world.env)
    cluster.wait_for(lambda: len(cluster.worker_pids()) >= 2, 90, "workers")
    actor = f.UserFactory(practice=world.practice, roles=["coordinator"])
    cases = [world_add_case(world, n) for n in range(1, 4)]
    for case in cases:
        submission_request(case=case, actor=actor)
    ticking()

    # When the worker that won the half-open probe is SIGKILLed inside the payer call
    def probing_worker():
        link = PayerLink.objects.get(payer=world.payer)
        if link.breaker_state != PayerLink.Breaker.HALF_OPEN:
            return None
        for pid in cluster.worker_pids():
            if alive(pid) and running(pid).endswith(".submit") and connected_to(pid, {world.live_port}):
                return pid
        return None

    pid = cluster.wait_for(probing_worker, 60, "a probe inside its payer call")
    probe_started = PayerLink.objects.get(payer=world.payer).probe_started_at
    os.kill(pid, signal.SIGKILL)
    # (the payer itself has recovered: from now on it answers at once)
    world.sandbox.timeout_rate = 0.0
    world.sandbox.save()

    # Then the breaker stays half-open (nobody else calls the payer) until the probe's limit, then opens
    # again with the next cool-down
    cluster.wait_for(
        lambda: "no answer to the probe within its time limit" in cluster.text(),
        HALF_OPEN_LIMIT + 30,
        "the breaker to open again after the probe's limit",
    )
    assert timezone.now() >= probe_started + timedelta(seconds=HALF_OPEN_LIMIT)
    # And the payer gets calls again: a new probe succeeds, the breaker closes, every case completes once
    ids = [c.pk for c in cases]

    def completed():
        link = PayerLink.objects.get(payer=world.payer)
        return link.breaker_state == PayerLink.Breaker.CLOSED and not invariant_breaches(
            ids, texts_at_carrier=world.carrier.texts()
        )

    cluster.wait_for(completed, 90, "the payer called again and every case decided")
    assert invariant_breaches(ids, texts_at_carrier=world.carrier.texts()) == []
