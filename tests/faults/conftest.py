"""Fault tests: a real django-q2 cluster (under our supervisor) on the PostgreSQL test database.

The cluster is a subprocess pointed at the test database pytest-django made; the test's data is
committed (`transaction=True`) so the cluster sees it. Every process started here is stopped by
pid with a timeout (a qcluster stop can hang, django-q2#346).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]


class Supervised:
    """`manage.py qsupervise` running in its own session; its log is read to find pids."""

    def __init__(self, log_path: Path, *args: str):
        settings = connection.settings_dict
        host = f"{settings['HOST'] or '127.0.0.1'}:{settings['PORT'] or 5432}"
        url = f"postgres://{settings['USER']}@{host}/{settings['NAME']}"
        env = {**os.environ, "DATABASE_URL": url, "Q_WORKERS": "2", "Q_SYNC": "0", "LOG_LEVEL": "INFO"}
        if settings.get("PASSWORD"):
            env["PGPASSWORD"] = settings["PASSWORD"]
        self.log_path = log_path
        self.log = open(log_path, "wb")
        self.proc = subprocess.Popen(
            [sys.executable, str(ROOT / "manage.py"), "qsupervise", *args],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def cluster_pids(self) -> list[int]:
        return [int(p) for p in re.findall(r"qcluster started \(pid (\d+)\)", self.text())]

    def worker_pids(self) -> list[int]:
        """Workers of the newest cluster: django-q2 logs "<name> ready for work at <pid>"."""
        text = self.text()
        newest = text.rfind("qcluster started")
        return [int(p) for p in re.findall(r"ready for work at (\d+)", text[newest:])]

    def wait_for(self, predicate, timeout: float, what: str):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(0.5)
        raise AssertionError(f"timed out after {timeout}s waiting for {what}\n--- log ---\n{self.text()[-4000:]}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        # Whatever cluster is left (the supervisor was killed before it could stop it): its whole group.
        for pid in self.cluster_pids():
            try:
                os.killpg(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        self.log.close()


@pytest.fixture
def supervised(postgres_only, tmp_path):
    started = []

    def start(*args: str) -> Supervised:
        s = Supervised(tmp_path / f"qsupervise-{len(started)}.log", *args)
        started.append(s)
        return s

    yield start
    for s in started:
        s.stop()
