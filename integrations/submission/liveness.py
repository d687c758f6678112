"""Is background work running? A heartbeat task, and what the supervisor and the banner read from it.

django-q2 can freeze: a worker killed while idle in `multiprocessing.Queue.get()` keeps the
queue's read lock, its replacements block on it, and the cluster goes on pulling tasks it never
runs (django-q2 issue 23; django-q 200, 394). No setting or release of django-q2 1.x avoids it
(the queue is a plain `multiprocessing.Queue`). So the cluster proves it works by running a task
that writes a timestamp, and `manage.py qsupervise` restarts it when that goes stale.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from integrations.submission.models import Heartbeat

CLUSTER = "cluster"
HEARTBEAT_TASK = "integrations.submission.liveness.heartbeat"
# Beyond this without a heartbeat the cluster is stalled: the banner shows and the supervisor
# restarts it. Three missed one-minute schedules, so one slow minute is not an alarm.
STALE_AFTER = timedelta(seconds=getattr(settings, "LIVENESS_STALE_AFTER_SECONDS", 180))


def heartbeat(name: str = CLUSTER) -> str:
    """Task (one-minute schedule `submission.heartbeat`, and the supervisor's own every 30 s)."""
    now = timezone.now()
    Heartbeat.objects.update_or_create(name=name, defaults={"beat_at": now})
    return now.isoformat()


def last_beat(name: str = CLUSTER) -> datetime | None:
    return Heartbeat.objects.filter(name=name).values_list("beat_at", flat=True).first()


@dataclass(frozen=True)
class Liveness:
    last_beat: datetime | None
    stalled: bool

    @property
    def stalled_since(self) -> datetime | None:
        return self.last_beat if self.stalled else None


def liveness_status(*, now=None, stale_after: timedelta = STALE_AFTER) -> Liveness:
    """Stalled when the last heartbeat is older than `stale_after`. A database that never had one
    (a new installation, a laptop without a cluster) is not called stalled: nothing ever ran there."""
    now = now or timezone.now()
    beat = last_beat()
    return Liveness(last_beat=beat, stalled=beat is not None and now - beat > stale_after)
