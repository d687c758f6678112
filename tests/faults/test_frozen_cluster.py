"""A worker pool frozen by killed idle workers is noticed and restarted (issue 21, 1).

SIGKILL of a django-q2 worker idle in `multiprocessing.Queue.get()` can leave the queue's read
lock held: its replacements block and nothing runs until the cluster restarts. The supervisor
(`manage.py qsupervise`) sees the heartbeat go stale and restarts it; new work runs within the
threshold either way.
"""

import os
import signal
import time

import pytest
from django.utils import timezone

from integrations.submission.liveness import HEARTBEAT_TASK
from integrations.submission.models import Heartbeat

# The fault group: a real cluster on PostgreSQL; `-m faults` runs only it, `-m 'not faults'` skips it.
pytestmark = pytest.mark.faults

STALE_AFTER = 20  # seconds; production uses 180
# Startup of a new cluster on this loaded two-core machine (Django import, workers forking).
START_MARGIN = 40
ARGS = ("--stale-after", str(STALE_AFTER), "--beat-every", "2", "--check-every", "1", "--stop-timeout", "3")


def _ran(name: str, since):
    return Heartbeat.objects.filter(name=name, beat_at__gte=since).exists()


@pytest.mark.django_db(transaction=True)
def test_killing_every_idle_worker_does_not_stop_new_work(supervised):
    # Given a supervised cluster that has run its heartbeat
    cluster = supervised(*ARGS)
    t0 = timezone.now()
    cluster.wait_for(lambda: Heartbeat.objects.filter(name="cluster", beat_at__gte=t0).exists(), 90, "a heartbeat")
    workers = cluster.wait_for(lambda: len(cluster.worker_pids()) >= 2 and cluster.worker_pids(), 30, "workers")
    time.sleep(1)  # idle: blocked in the task queue's get()
    # When every idle worker is SIGKILLed
    for pid in workers:
        os.kill(pid, signal.SIGKILL)
    killed_at = timezone.now()
    from django_q.tasks import async_task

    async_task(HEARTBEAT_TASK, "after-kill")
    # Then new work runs within the threshold (the pool recovered, or the supervisor restarted it)
    cluster.wait_for(lambda: _ran("after-kill", killed_at), STALE_AFTER + START_MARGIN, "new work after the kill")
    assert (timezone.now() - killed_at).total_seconds() <= STALE_AFTER + START_MARGIN


@pytest.mark.django_db(transaction=True)
def test_a_frozen_cluster_is_restarted(supervised):
    # Given a supervised cluster whose every process but its supervisor stops (SIGSTOP: a pool
    # that pulls nothing and runs nothing, the frozen state made certain)
    cluster = supervised(*ARGS)
    t0 = timezone.now()
    cluster.wait_for(lambda: Heartbeat.objects.filter(name="cluster", beat_at__gte=t0).exists(), 90, "a heartbeat")
    first = cluster.cluster_pids()[-1]
    os.killpg(first, signal.SIGSTOP)
    frozen_at = timezone.now()
    # When the heartbeat goes stale
    # Then the supervisor starts a new cluster, which runs the heartbeat again
    cluster.wait_for(lambda: len(cluster.cluster_pids()) >= 2, STALE_AFTER + 20, "a restart")
    assert "restarting qcluster" in cluster.text()
    cluster.wait_for(
        lambda: Heartbeat.objects.filter(name="cluster", beat_at__gt=frozen_at).exists(),
        START_MARGIN + 20,
        "a heartbeat from the new cluster",
    )
