"""Fault tests: a real django-q2 cluster (under our supervisor) on the PostgreSQL test database.

The cluster is a subprocess pointed at the test database pytest-django made; the test's data is
committed (`transaction=True`) so the cluster sees it. Every process started here is stopped by
pid with a timeout (a qcluster stop can hang, django-q2#346).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.faults.procs import Supervised

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def supervised(postgres_only, tmp_path):
    started = []

    def start(*args: str, env: dict | None = None) -> Supervised:
        s = Supervised(tmp_path / f"qsupervise-{len(started)}.log", *args, env=env)
        started.append(s)
        return s

    yield start
    for s in started:
        s.stop()


# --- busy workers: the world, slow peers, shortened thresholds, the schedules' stand-in ----------------

# How long work a dead worker left behind waits before it is taken again, shortened so recovery is
# seen in seconds (production in brackets: docs/reliability.md). Each still exceeds the longest a live
# worker holds that work: a 5 s connect + 6 s payer read inside a 15 s task.
FAULT_ENV = {
    "Q_TIMEOUT": "15",  # [120]
    "Q_RETRY": "20",  # [300]
    "PAS_READ_TIMEOUT_SECONDS": "6",  # [30]
    "SUBMISSION_SENDING_STALE_SECONDS": "20",  # [300]
    "POLL_LEASE_SECONDS": "20",  # [600]
    "SMS_CLAIM_GRACE_SECONDS": "15",  # [120]
    "BREAKER_HALF_OPEN_LIMIT_SECONDS": "12",  # [180]
    "BREAKER_COOLDOWN_BASE_SECONDS": "5",  # [60]
}
# The every-minute schedules (outbox retries and reclaims, due polls) run every TICK seconds instead:
# the test enqueues their tasks, as the scheduler would, so a recovery is not a minute's wait.
DUE_WORK = (
    "integrations.submission.tasks.send_due_submissions",
    "integrations.submission.tasks.poll_due_cases",
    "integrations.ehr_fhir.tasks.write_back_due",
    "integrations.sms_twilio.tasks.send_due_texts",
)
TICK = 4.0
SUPERVISE = ("--stale-after", "20", "--beat-every", "2", "--check-every", "1", "--stop-timeout", "3")


@pytest.fixture
def carrier():
    from tests.faults.peers import Carrier

    c = Carrier(delay=3.0)
    yield c
    c.close()


@pytest.fixture
def world(postgres_only, live_server, settings, carrier):
    """The sandbox payer and EHR served by live_server (the EHR behind a 3 s relay), texts to the carrier."""
    from integrations.ehr_fhir.models import EhrConnection
    from tests.faults.peers import Relay
    from tests.faults.world import world_build

    settings.SANDBOX_ENABLED = True
    w = world_build(base_url=live_server.url)
    relay = Relay(live_server.url, delay=3.0)
    EhrConnection.objects.filter(practice=w.practice).update(
        base_url=f"{relay.url}/sandbox/ehr/fhir/", timeout_seconds=8
    )
    w.relay = relay
    w.carrier = carrier
    w.live_port = int(live_server.url.rsplit(":", 1)[1])
    w.env = {
        **FAULT_ENV,
        "SMS_BACKEND": "twilio",
        "TWILIO_ACCOUNT_SID": "ACfaults",
        "TWILIO_AUTH_TOKEN": "faults",
        "TWILIO_FROM_NUMBER": "+15555550199",
        "TWILIO_API_BASE_URL": carrier.url,
        "PUBLIC_BASE_URL": live_server.url,
    }
    yield w
    relay.close()


@pytest.fixture
def ticking():
    """Start the schedules' stand-in: DUE_WORK enqueued every TICK seconds until the test ends."""
    import threading

    from django.db import connections
    from django_q.tasks import async_task

    stop = threading.Event()

    def tick():
        while not stop.wait(TICK):
            for func in DUE_WORK:
                async_task(func)
        connections.close_all()

    thread = threading.Thread(target=tick, daemon=True)
    yield lambda: thread.start()
    stop.set()
    if thread.is_alive():
        thread.join(timeout=10)
