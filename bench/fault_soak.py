"""The long fault run: cases flow through a supervised cluster while workers (idle and busy) and the
whole cluster are SIGKILLed at random; then the invariants are checked (docs/reliability.md).

    DATABASE_URL=postgres://…/somedb SOAK_MINUTES=15 python bench/fault_soak.py

Creates a throwaway database (BENCH_DATABASE_NAME, default fault_soak_tmp), serves the app (and so the
sandbox payer and sandbox EHR) with runserver on a free loopback port, and runs `manage.py qsupervise`
(2 workers) on it with the real every-minute schedules. A thread submits a case every SOAK_CASE_EVERY
seconds (default 6) to a sandbox payer that answers slowly (30 % of calls take 3 s) and decides 20 s
after receipt (found by the one-minute polls), with 5 % of calls answered 503; EHR write-backs go
through a relay and texts to a carrier speaking Twilio's API, both answering after 1 s. Every
SOAK_KILL_EVERY seconds (default 30, jittered) one kill: a *busy* worker (one inside a call to the
payer, the EHR or the carrier at that moment), an *idle* worker, or the whole cluster's process group.
After each kill a marker task is enqueued and the time until it runs is the recovery time. At the end
the run drains (no more kills or cases) until every case has its decision and nothing is left
mid-flight (at most SOAK_DRAIN_MINUTES, default 8), then prints a JSON report: kills by kind, events,
breaches of the invariants (duplicates, wrong or missing finals, stuck rows), recovery times.

The thresholds that decide when a dead worker's work is taken again are shortened through the
environment (production values in brackets): Q_TIMEOUT 60 [120], Q_RETRY 90 [300], a sending
submission 75 s [300], a poll lease 90 s [600], a text's claim 60 s [120], the supervisor's stale
heartbeat 30 s [180].
"""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "priorauth.settings")
os.environ.setdefault("LOG_LEVEL", "WARNING")
# Our own throwaway database, never the one DATABASE_URL names or the test suite's.
os.environ["TEST_DATABASE_NAME"] = os.environ.get("BENCH_DATABASE_NAME", "fault_soak_tmp")

MINUTES = float(os.environ.get("SOAK_MINUTES", 3))
CASE_EVERY = float(os.environ.get("SOAK_CASE_EVERY", 6))
KILL_EVERY = float(os.environ.get("SOAK_KILL_EVERY", 30))
DRAIN_MINUTES = float(os.environ.get("SOAK_DRAIN_MINUTES", 8))
STALE_AFTER = 30
THRESHOLDS = {
    "Q_TIMEOUT": "60",
    "Q_RETRY": "90",
    "SUBMISSION_SENDING_STALE_SECONDS": "75",
    "POLL_LEASE_SECONDS": "90",
    "SMS_CLAIM_GRACE_SECONDS": "60",
}
os.environ.update(THRESHOLDS)

import django  # noqa: E402

django.setup()

import requests  # noqa: E402
from django.db import close_old_connections, connection  # noqa: E402
from django.test.utils import setup_databases, teardown_databases  # noqa: E402
from django.utils import timezone  # noqa: E402

from tests.faults.procs import Supervised  # noqa: E402  (the fault tests' supervised cluster, one copy)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def db_url() -> str:
    s = connection.settings_dict
    return f"postgres://{s['USER']}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def live_workers(cluster) -> list[int]:
    """The newest cluster's workers still alive (the supervisor's log names them as they start)."""
    from tests.faults.procs import alive

    return [p for p in cluster.worker_pids() if alive(p)]


def main() -> int:
    from django_q.tasks import async_task

    from integrations.ehr_fhir.models import EhrConnection
    from integrations.submission.liveness import HEARTBEAT_TASK
    from integrations.submission.models import Heartbeat
    from integrations.submission.services import submission_request
    from tests import factories as f
    from tests.faults.peers import Carrier, Relay
    from tests.faults.procs import connected_to, running
    from tests.faults.world import (
        events_per_case,
        invariant_breaches,
        stuck_rows,
        world_add_case,
        world_build,
    )

    old = setup_databases(verbosity=0, interactive=False)
    work = Path(tempfile.mkdtemp(prefix="fault_soak_"))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "DATABASE_URL": db_url(),
        "Q_WORKERS": "2",
        "Q_SYNC": "0",
        "LOG_LEVEL": "INFO",
        "LOG_FORMAT": "plain",
        "SMS_BACKEND": "twilio",
        "TWILIO_ACCOUNT_SID": "ACsoak",
        "TWILIO_AUTH_TOKEN": "soak",
        "TWILIO_FROM_NUMBER": "+15555550199",
        "PUBLIC_BASE_URL": base,
        "CONN_MAX_AGE": "60",
    }
    web = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", "--noreload", "--skip-checks", f"127.0.0.1:{port}"],
        cwd=ROOT,
        env={**env, "LOG_LEVEL": "WARNING"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    cluster = None
    # Texts to a carrier speaking Twilio's API, EHR writes through a relay: both answer after 1 s.
    carrier = Carrier(delay=1.0)
    env["TWILIO_API_BASE_URL"] = carrier.url
    relay = Relay(base, delay=1.0)
    try:
        for _ in range(150):
            try:
                requests.get(f"{base}/healthz/", timeout=1)
                break
            except requests.RequestException:
                time.sleep(0.2)
        world = world_build(
            base_url=base,
            slug="soak",
            approve_weight=6,
            partial_weight=1,
            deny_weight=2,
            decision_delay_seconds=20,
            error_rate=0.05,
            timeout_rate=0.3,
            timeout_seconds=3,  # slow, not hung: the client's read timeout is 30 s
        )
        EhrConnection.objects.filter(practice=world.practice).update(base_url=f"{relay.url}/sandbox/ehr/fhir/")
        actor = f.UserFactory(practice=world.practice, roles=["coordinator"])
        cluster = Supervised(
            work / "qsupervise.log",
            *("--stale-after", str(STALE_AFTER), "--beat-every", "5", "--check-every", "1", "--stop-timeout", "3"),
            env=env,
        )
        started = time.monotonic()
        while not live_workers(cluster):
            assert time.monotonic() - started < 120, cluster.text()[-3000:]
            time.sleep(1)
        end = time.monotonic() + MINUTES * 60
        case_ids: list[int] = []
        flowing = threading.Event()
        flowing.set()

        def feed():
            n = 0
            while flowing.is_set():
                n += 1
                case = world_add_case(world, n)
                submission_request(case=case, actor=actor)
                case_ids.append(case.pk)
                time.sleep(CASE_EVERY)
            close_old_connections()

        feeder = threading.Thread(target=feed, daemon=True)
        feeder.start()
        kills: Counter = Counter()
        busy_in: Counter = Counter()
        # A worker is inside a call when connected to the peer its task calls (a connection to another
        # may be a pooled keep-alive left from an earlier task).
        peers = {
            "integrations.submission.tasks.submit": port,
            "integrations.submission.tasks.poll_case": port,
            "integrations.ehr_fhir.tasks.write_back": relay.port,
            "integrations.sms_twilio.tasks.send_message": carrier.port,
        }
        recoveries: list[float] = []
        i = 0
        while time.monotonic() < end:
            time.sleep(random.uniform(KILL_EVERY / 2, KILL_EVERY * 1.5))
            i += 1
            kind = random.choices(["busy", "idle", "cluster"], weights=[2, 1, 1])[0]
            target, task = None, ""
            if kind == "busy":
                deadline = time.monotonic() + 10
                while target is None and time.monotonic() < deadline:
                    tasks = [(p, running(p)) for p in live_workers(cluster)]
                    busy = [(p, t) for p, t in tasks if connected_to(p, {peers.get(t, 0)})]
                    if busy:
                        target, task = busy[0][0], busy[0][1].rsplit(".", 1)[-1]
                    time.sleep(0.1)
                if target is None:
                    kind = "idle"
            if kind == "idle":
                idle = [p for p in live_workers(cluster) if not running(p)]
                target = random.choice(idle) if idle else None
                if target is None:
                    continue
            killed_at = timezone.now()
            t0 = time.monotonic()
            try:
                if kind == "cluster":
                    os.killpg(cluster.cluster_pids()[-1], signal.SIGKILL)
                else:
                    os.kill(target, signal.SIGKILL)
            except ProcessLookupError:
                continue
            kills[kind] += 1
            if kind == "busy":
                busy_in[task] += 1
            marker = f"soak-{i}"
            async_task(HEARTBEAT_TASK, marker)
            while not Heartbeat.objects.filter(name=marker, beat_at__gte=killed_at).exists():
                if time.monotonic() - t0 > 600:
                    break
                time.sleep(0.5)
            recoveries.append(round(time.monotonic() - t0, 1))
            print(f"kill {i}: {kind} {task} -> new work ran after {recoveries[-1]} s", flush=True)
        flowing.clear()
        feeder.join(timeout=60)
        drain_start = time.monotonic()
        while time.monotonic() - drain_start < DRAIN_MINUTES * 60:
            pending = stuck_rows(case_ids, now=timezone.now()) or invariant_breaches(
                case_ids, texts_at_carrier=carrier.texts(), final=True
            )
            if not pending:
                break
            time.sleep(10)
        breaches = invariant_breaches(case_ids, texts_at_carrier=carrier.texts(), final=True)
        report = {
            "minutes": MINUTES,
            "cases": len(case_ids),
            "kills": dict(kills),
            "kills_total": sum(kills.values()),
            "busy_kills_by_task": dict(busy_in),
            "events": events_per_case(case_ids),
            "cluster_restarts": len(cluster.cluster_pids()) - 1,
            "recovery_seconds": {
                "max": max(recoveries, default=0),
                "median": statistics.median(recoveries) if recoveries else 0,
            },
            "drain_seconds": round(time.monotonic() - drain_start),
            "breaches": breaches,
            "stuck_rows": stuck_rows(case_ids),
            "thresholds": {**THRESHOLDS, "qsupervise --stale-after": STALE_AFTER},
            "log": str(work),
        }
        print(json.dumps(report, indent=2, default=str), flush=True)
        return 1 if breaches else 0
    finally:
        if cluster is not None:
            cluster.stop()
        carrier.close()
        relay.close()
        web.terminate()
        try:
            web.wait(timeout=10)
        except subprocess.TimeoutExpired:
            web.kill()
        close_old_connections()
        connection.close()
        teardown_databases(old, verbosity=0)


if __name__ == "__main__":
    sys.exit(main())
