"""SIGTERM stops the django-q2 cluster within 10 s, and the task it was running is finished once, not lost.

A real cluster in its own process on its own SQLite database (ORM broker), as `make cluster` runs it.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _manage(env, *args, timeout=180):
    return subprocess.run(  # noqa: S603
        [sys.executable, "manage.py", *args], cwd=REPO, env=env, check=True, capture_output=True, timeout=timeout
    )


# `make cluster` runs the supervisor (qsupervise), which passes SIGTERM on to its qcluster; both must stop in time.
@pytest.mark.parametrize("command", [["qcluster"], ["qsupervise"]], ids=["qcluster", "qsupervise"])
def test_sigterm_stops_the_cluster_within_10_s_after_finishing_its_task(tmp_path, command):
    # given a migrated database with one queued task that takes 3 s
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'q.sqlite3'}", "Q_WORKERS": "1", "LOG_LEVEL": "INFO"}
    env.pop("REQUIRE_POSTGRES", None)
    marks = tmp_path / "marks"
    _manage(env, "migrate", "--noinput", "-v0")
    _manage(
        env,
        "shell",
        "-v0",
        "-c",
        f"from django_q.tasks import async_task; async_task('tests.ops.cluster_tasks.slow_marker', {str(marks)!r}, 3)",
    )
    log = (tmp_path / "cluster.log").open("w")
    cluster = subprocess.Popen(  # noqa: S603
        [sys.executable, "manage.py", *command],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not (marks.exists() and "start" in marks.read_text()):
            assert time.monotonic() < deadline, "the task never started"
            assert cluster.poll() is None, (tmp_path / "cluster.log").read_text()
            time.sleep(0.1)
        # when the cluster gets SIGTERM while the task runs
        cluster.send_signal(signal.SIGTERM)
        sent = time.monotonic()
        cluster.wait(timeout=10)
        stopped_in = time.monotonic() - sent
    finally:
        if cluster.poll() is None:
            os.killpg(cluster.pid, signal.SIGKILL)  # a hung stop (django-q2#346) must not hang the suite
            cluster.wait()
        log.close()
    # then it stopped within 10 s, having finished the task once: recorded as a success, nothing left queued
    assert stopped_in < 10
    assert marks.read_text().split() == ["start", "end"]
    check = _manage(
        env,
        "shell",
        "-v0",
        "-c",
        "from django_q.models import OrmQ, Success; f = 'tests.ops.cluster_tasks.slow_marker'; "
        "print(Success.objects.filter(func=f).count(), sum(q.task['func'] == f for q in OrmQ.objects.all()))",
    )
    assert check.stdout.decode().split() == ["1", "0"]
