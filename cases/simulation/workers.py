"""Real cluster workers for a simulation run (manage.py simulate_practice --workers N).

The run starts its own `manage.py qcluster` in a subprocess on the same database: the ORM broker on a queue
of its own (Q_CLUSTER_NAME), no scheduler of its own (the run enqueues the schedules' functions itself, once
per simulated hour), successful results not kept. The simulated clock reaches the workers through a file:
the run writes the simulated time there before each step, and every worker travels to it (time-machine)
just before each task it executes (`follow_clock`, connected in CasesConfig.ready when SIMULATION_CLOCK is
set). After each phase of a step the run waits until the queue is empty — the broker deletes a task's row
only when its result is in, and a task's follow-on tasks are queued before it returns — so the staff model
acts on what the workers have finished, as people would see it on the page.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from urllib.parse import quote

from django.db import connection

CLOCK_ENV = "SIMULATION_CLOCK"
ROOT = Path(__file__).resolve().parents[2]


class ClusterFailed(RuntimeError):
    """The run's cluster died or stopped working: the run cannot go on (its log says why)."""


def follow_clock(path: str) -> None:
    """In a worker process: before each task, travel to the simulated time the run last wrote."""
    import time_machine
    from django_q.signals import pre_execute

    state: dict = {"traveller": None}

    def travel(sender, **kwargs):
        if state["traveller"] is not None:
            state["traveller"].stop()
        at = datetime.fromisoformat(Path(path).read_text().strip())
        state["traveller"] = time_machine.travel(at, tick=False)
        state["traveller"].start()

    pre_execute.connect(travel, weak=False, dispatch_uid="simulation-clock")


def database_url() -> str:
    """The URL of the database this process is connected to (the run's cluster must use the same one)."""
    s = connection.settings_dict
    if s["ENGINE"] == "django.db.backends.sqlite3":
        name = str(s["NAME"])
        if name == ":memory:" or "mode=memory" in name:
            raise ClusterFailed("Real workers need a database they can reach: not an in-memory SQLite one.")
        return f"sqlite:///{name}"
    user = quote(s.get("USER") or "", safe="")
    password = f":{quote(s['PASSWORD'], safe='')}" if s.get("PASSWORD") else ""
    host = s.get("HOST") or "127.0.0.1"
    port = s.get("PORT") or 5432
    return f"postgres://{user}{password}@{host}:{port}/{quote(str(s['NAME']), safe='')}"


class SimulationCluster:
    """`manage.py qcluster` with `workers` worker processes, for one run."""

    def __init__(self, *, workers: int, payer_url: str):
        self.name = f"simulation-{os.getpid()}-{time.monotonic_ns() % 1_000_000}"
        self.dir = Path(tempfile.mkdtemp(prefix="simulation-"))
        self.clock_path = self.dir / "clock"
        self.log_path = self.dir / "qcluster.log"
        env = {
            **os.environ,
            "DATABASE_URL": database_url(),
            "Q_WORKERS": str(workers),
            "Q_SYNC": "0",
            "Q_BROKER": "orm",
            "Q_POLL": "0.002",
            "Q_BULK": os.environ.get("SIMULATION_Q_BULK", "8"),
            "Q_CLUSTER_NAME": self.name,
            "Q_SCHEDULER": "0",
            "Q_SAVE_LIMIT": "-1",
            "CONN_MAX_AGE": "600",  # a worker keeps its connection between tasks (they come every few ms)
            # A scratch database: commits need not wait for the disk (PostgreSQL; ignored by SQLite).
            "PGOPTIONS": f"{os.environ.get('PGOPTIONS', '')} -c synchronous_commit=off".strip(),
            CLOCK_ENV: str(self.clock_path),
            "SIMULATION_PAYER_URL": payer_url,
            "SANDBOX_ENABLED": "0",
            "LOG_LEVEL": "WARNING",
        }
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(  # noqa: S603 - this interpreter and manage.py, no outside input
            [sys.executable, str(ROOT / "manage.py"), "qcluster"],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def set_clock(self, at: datetime) -> None:
        tmp = self.clock_path.with_suffix(".tmp")
        tmp.write_text(at.isoformat())
        os.replace(tmp, self.clock_path)

    def drain(self, timeout: float = 300) -> None:
        """Wait until every task queued so far (and what those queued) has run."""
        from django_q.models import OrmQ

        deadline = time.monotonic() + timeout
        queued = OrmQ.objects.filter(key=self.name)
        while queued.exists():
            if self.proc.poll() is not None:
                raise ClusterFailed(f"The simulation's cluster exited ({self.proc.returncode}): {self.log_tail()}")
            if time.monotonic() > deadline:
                waited = f"{timeout:.0f} s"
                raise ClusterFailed(f"The simulation's cluster left tasks queued for {waited}: {self.log_tail()}")
            time.sleep(0.001)

    def failures(self) -> list[str]:
        """Tasks of this run that raised (django-q2 keeps failures whatever the save limit)."""
        from django_q.models import Failure

        return [f"{f.func}: {str(f.result).splitlines()[0][:200]}" for f in Failure.objects.filter(cluster=self.name)]

    def log_tail(self) -> str:
        self.log.flush()
        return self.log_path.read_text(errors="replace")[-2000:] or "(its log is empty)"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)  # whatever of its group is left (a stop can hang)
        except (ProcessLookupError, PermissionError):
            pass
        self.proc.wait(timeout=5)
        self.log.close()
        from django_q.models import Failure, OrmQ

        OrmQ.objects.filter(key=self.name).delete()
        Failure.objects.filter(cluster=self.name).delete()
        for path in (self.clock_path, self.log_path):
            path.unlink(missing_ok=True)
        self.dir.rmdir()
