"""Run the django-q2 cluster and restart it when it stops running tasks.

    manage.py qsupervise [--stale-after 180] [--beat-every 30]

The production process runs this instead of `manage.py qcluster` (docs/reliability.md). It
starts `qcluster` as a child in its own session, enqueues the heartbeat task every
`--beat-every` seconds (besides the one-minute schedule), and when no heartbeat has run for
`--stale-after` seconds since the last beat or the child's start, it stops the child (SIGTERM
to its process group, SIGKILL after `--stop-timeout`: a stop can hang, django-q2#346) and starts
a new one. A child that exits is started again. SIGTERM/SIGINT stop both.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import close_old_connections
from django.utils import timezone

from integrations.submission.liveness import HEARTBEAT_TASK, STALE_AFTER, last_beat

log = logging.getLogger("integrations.submission.qsupervise")


class Command(BaseCommand):
    help = "Run the background cluster (qcluster) and restart it when its heartbeat goes stale."

    def add_arguments(self, parser):
        parser.add_argument("--stale-after", type=float, default=STALE_AFTER.total_seconds())
        parser.add_argument("--beat-every", type=float, default=30.0)
        parser.add_argument("--stop-timeout", type=float, default=10.0)
        parser.add_argument("--check-every", type=float, default=2.0)

    def handle(self, *args, stale_after, beat_every, stop_timeout, check_every, **options):
        self.stop_timeout = stop_timeout
        self.stopping = False
        self.wake = threading.Event()  # set by SIGTERM/SIGINT: the stop does not wait out the check interval
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)
        stale = timedelta(seconds=stale_after)
        child, started = self._start(), timezone.now()
        enqueued_at = None
        try:
            while not self.stopping:
                self.wake.wait(check_every)
                if self.stopping:
                    break
                close_old_connections()
                now = timezone.now()
                if child.poll() is not None:
                    log.error("qcluster exited with %s: starting it again", child.returncode)
                    self._release_pulled()
                    child, started, enqueued_at = self._start(), timezone.now(), None
                    continue
                beat = last_beat()
                # A new child gets the full threshold from its start before it is judged.
                since = max(beat, started) if beat else started
                if now - since > stale:
                    log.critical(
                        "no background task has run since %s (threshold %ss): restarting qcluster (pid %s)",
                        since.isoformat(timespec="seconds"),
                        int(stale_after),
                        child.pid,
                    )
                    self._terminate(child)
                    self._release_pulled()
                    child, started, enqueued_at = self._start(), timezone.now(), None
                    continue
                # One heartbeat outstanding at a time: a frozen pool does not pile them up in the broker.
                answered = beat is not None and enqueued_at is not None and beat >= enqueued_at
                if enqueued_at is None or (answered and (now - enqueued_at).total_seconds() >= beat_every):
                    self._enqueue_beat()
                    enqueued_at = now
        finally:
            self._terminate(child)

    def _stop(self, signum, frame):
        self.stopping = True
        self.wake.set()

    def _start(self) -> subprocess.Popen:
        manage = os.path.join(settings.BASE_DIR, "manage.py")
        # Our own interpreter and manage.py: no outside input reaches the command line.
        child = subprocess.Popen([sys.executable, manage, "qcluster"], start_new_session=True)  # noqa: S603
        log.warning("qcluster started (pid %s)", child.pid)
        return child

    def _terminate(self, child: subprocess.Popen) -> None:
        if child.poll() is not None:
            return
        # SIGTERM to qcluster's own process only: its sentinel stops the pusher, lets each worker finish the
        # task it runs and exits (what `make cluster` promised before the supervisor). A SIGTERM to the whole
        # group would reach the workers mid-task. A stop that hangs (django-q2#346) gets SIGKILL for the group.
        try:
            os.kill(child.pid, signal.SIGTERM)
            child.wait(timeout=self.stop_timeout)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            log.error("qcluster (pid %s) did not stop within %ss: killing it", child.pid, self.stop_timeout)
        # Whatever of its group is left (workers of a frozen pool, or of a cluster that had to be killed).
        try:
            os.killpg(child.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            child.wait(timeout=5)
        except subprocess.TimeoutExpired:
            log.error("qcluster (pid %s) did not die on SIGKILL", child.pid)

    def _release_pulled(self) -> None:
        """Tasks the dead cluster had pulled are due again now rather than after Q_CLUSTER["retry"]
        (5 min). ORM broker only: its rows stay locked until then; Redis hands a pulled task over for
        good, and the schedules re-derive that work from the outbox rows and the poll index. Our tasks
        claim their rows, so one that did run before the kill is harmless to run again."""
        from django_q.brokers import get_broker
        from django_q.brokers.orm import ORM

        broker = get_broker()
        if isinstance(broker, ORM):
            now = timezone.now()
            released = broker.get_connection().filter(key=broker.list_key, lock__gt=now).update(lock=now)
            if released:
                log.warning("released %s task(s) the stopped cluster had taken", released)

    def _enqueue_beat(self) -> None:
        from django_q.tasks import async_task

        try:
            async_task(HEARTBEAT_TASK, q_options={"timeout": 30})
        except Exception:  # the broker (the database) may be down a moment: the next round tries again
            log.exception("could not enqueue the heartbeat")
