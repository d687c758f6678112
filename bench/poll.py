"""Benchmark: cases polled per second against the sandbox payer, next to the raw
HTTP request rate of the same endpoint, and the claim query's cost with and
without a large number of closed cases.

    DATABASE_URL=postgres://…/somedb python bench/poll.py

Creates a throwaway test database (test_<name>), serves the app on a free
loopback port in a threaded WSGI server (the sandbox payer is part of the app),
seeds BENCH_CASES due cases (default 10 000) and polls them all with
BENCH_WORKERS threads (default 8), each claiming batches with
select_for_update(skip_locked) and calling `case_poll` per case — the same code
the django-q2 tasks run, minus the broker hop. 10 % of the sandbox's answers are
decisions (applied with their outbox rows), the rest "still pending".
"""

from __future__ import annotations

import os
import statistics
import sys
import threading
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "priorauth.settings")
os.environ.setdefault("LOG_LEVEL", "WARNING")
# Our own throwaway database, never the one DATABASE_URL names or the test suite's.
os.environ["TEST_DATABASE_NAME"] = os.environ.get("BENCH_DATABASE_NAME", "bench_poll_tmp")

import django  # noqa: E402

django.setup()

import socket  # noqa: E402
import subprocess  # noqa: E402

import requests  # noqa: E402
from django.db import connection, connections  # noqa: E402
from django.test.utils import setup_databases, teardown_databases  # noqa: E402
from django.utils import timezone  # noqa: E402

CASES = int(os.environ.get("BENCH_CASES", 10_000))
CLOSED = int(os.environ.get("BENCH_CLOSED", 100_000))
WORKERS = int(os.environ.get("BENCH_WORKERS", 8))
RAW_REQUESTS = int(os.environ.get("BENCH_RAW_REQUESTS", 3_000))


def serve() -> tuple[subprocess.Popen, str]:
    """The app (and so the sandbox payer) in its own process, as in production: runserver on the bench database."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings_db = connection.settings_dict
    url = f"postgres://{settings_db['USER']}@{settings_db['HOST']}:{settings_db['PORT']}/{settings_db['NAME']}"
    env = {**os.environ, "DATABASE_URL": url, "DEBUG": "", "LOG_LEVEL": "WARNING", "CONN_MAX_AGE": "60"}
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", "--noreload", "--skip-checks", f"127.0.0.1:{port}"],
        cwd=Path(__file__).resolve().parents[1],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            requests.get(f"{base}/login/", timeout=1)
            break
        except requests.RequestException:
            time.sleep(0.2)
    return proc, base


def seed(base_url: str):
    from cases.models import Order, Patient, Practice, PriorAuthCase, Provider, Status
    from integrations.pas.models import SandboxClaim, SandboxPayer
    from integrations.submission.models import PayerLink
    from payers.models import Payer

    practice = Practice.objects.create(name="Bench practice")
    provider = Provider.objects.create(
        practice=practice, first_name="B", last_name="Ench", npi="1999999999", specialty="x"
    )
    patients = Patient.objects.bulk_create(
        [
            Patient(practice=practice, first_name="P", last_name=f"N{i}", birth_date=date(1970, 1, 1), mrn=f"B{i}")
            for i in range(200)
        ]
    )
    sandbox = SandboxPayer.objects.create(slug="bench", decision_delay_seconds=10**6)
    payer = Payer.objects.create(
        name="Bench PAS payer",
        default_channel="pas",
        fhir_base_url=f"{base_url}/sandbox/payer/bench/fhir",
        poll_interval_hours=8,
    )
    PayerLink.objects.create(payer=payer)
    now = timezone.now()

    def make_cases(n: int, status: str, due: bool) -> list[int]:
        orders = Order.objects.bulk_create(
            [
                Order(
                    practice=practice,
                    patient=patients[i % len(patients)],
                    code="70551",
                    description="MRI brain",
                    ordering_provider=provider,
                    requested_date=date(2026, 12, 1),
                )
                for i in range(n)
            ],
            batch_size=5000,
        )
        cases = PriorAuthCase.objects.bulk_create(
            [
                PriorAuthCase(
                    practice=practice,
                    order=o,
                    patient=o.patient,
                    payer=payer,
                    status=status,
                    channel="pas",
                    submitted_at=now - timedelta(days=1),
                    decision_due_at=now + timedelta(days=6),
                    next_poll_at=(now - timedelta(minutes=1)) if due else None,
                )
                for o in orders
            ],
            batch_size=5000,
        )
        return [c.pk for c in cases]

    due_ids = make_cases(CASES, Status.SUBMITTED, True)
    stub = {
        "claim": {
            "type": {"coding": [{"code": "professional"}]},
            "patient": {"reference": "urn:uuid:p"},
            "insurer": {"reference": "urn:uuid:i"},
            "item": [{"sequence": 1, "quantity": {"value": 1}}],
        },
        "patient": {"fullUrl": "urn:uuid:p", "resource": {"resourceType": "Patient", "id": "p"}},
        "insurer": {"fullUrl": "urn:uuid:i", "resource": {"resourceType": "Organization", "id": "i"}},
    }
    SandboxClaim.objects.bulk_create(
        [
            SandboxClaim(
                sandbox_payer=sandbox,
                claim_identifier=f"case-{pk}",
                review_action="A1" if i % 20 else "A3",
                received_at=now - timedelta(days=1),
                # One in ten has been decided; the rest answer "queued".
                decide_at=now - timedelta(minutes=1) if i % 10 == 0 else now + timedelta(days=30),
                claim=stub,
            )
            for i, pk in enumerate(due_ids)
        ],
        batch_size=5000,
    )
    return make_cases, due_ids, payer


def claim_query_ms(runs: int = 30) -> tuple[float, str]:
    """Median time of the claim (rolled back, so nothing is leased) and its plan's access path."""
    from django.db import transaction

    from integrations.submission.polling import poll_claim_due

    times = []
    for _ in range(runs):
        start = time.perf_counter()
        try:
            with transaction.atomic():
                poll_claim_due(limit=50)
                raise _Rollback
        except _Rollback:
            pass
        times.append((time.perf_counter() - start) * 1000)
    with connection.cursor() as cur:
        cur.execute(
            "EXPLAIN SELECT id FROM cases_priorauthcase WHERE next_poll_at <= now() "
            "AND status IN ('submitted','pended','appealed') ORDER BY next_poll_at LIMIT 50 FOR UPDATE SKIP LOCKED"
        )
        plan = " / ".join(row[0].strip() for row in cur.fetchall()[:4])
    return statistics.median(times), plan


class _Rollback(Exception):
    pass


def poll_all(workers: int) -> tuple[int, float, dict]:
    from collections import Counter

    from integrations.submission.polling import case_poll, poll_claim_due

    results = Counter()
    lock = threading.Lock()

    def worker():
        try:
            while True:
                ids = poll_claim_due(limit=25)
                if not ids:
                    return
                local = Counter(case_poll(case_id=pk) for pk in ids)
                with lock:
                    results.update(local)
        finally:
            connections.close_all()

    start = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    return sum(results.values()), elapsed, {str(k): v for k, v in results.items()}


def raw_http(base_url: str, case_id: int, workers: int) -> float:
    """Requests per second to the same $inquire endpoint with a prebuilt bundle (no DB work on our side)."""
    from cases.models import PriorAuthCase
    from integrations.pas.bundle import build_inquiry_bundle

    case = PriorAuthCase.objects.select_related("payer", "patient", "practice", "order").get(pk=case_id)
    bundle = build_inquiry_bundle(case, submission_key=f"case-{case_id}")
    url = f"{base_url}/sandbox/payer/bench/fhir/Claim/$inquire"
    per = RAW_REQUESTS // workers

    def worker():
        s = requests.Session()
        for _ in range(per):
            s.post(url, json=bundle, timeout=30).raise_for_status()

    start = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return per * workers / (time.perf_counter() - start)


def main():
    if connection.vendor != "postgresql":
        sys.exit("bench/poll.py needs PostgreSQL: set DATABASE_URL")
    old = setup_databases(verbosity=0, interactive=False)
    server = None
    try:
        server, base_url = serve()
        t0 = time.perf_counter()
        make_cases, due_ids, _payer = seed(base_url)
        print(f"seeded {CASES} due cases in {time.perf_counter() - t0:.1f} s")
        with connection.cursor() as cur:
            cur.execute("ANALYZE cases_priorauthcase")  # fair planner statistics for both measurements

        empty_ms, plan = claim_query_ms()
        t0 = time.perf_counter()
        make_cases(CLOSED, "closed", False)
        with connection.cursor() as cur:
            cur.execute("ANALYZE cases_priorauthcase")
        print(f"added {CLOSED} closed cases in {time.perf_counter() - t0:.1f} s")
        full_ms, plan_full = claim_query_ms()

        raw = raw_http(base_url, due_ids[1], WORKERS)
        polled, elapsed, outcomes = poll_all(WORKERS)
        print()
        print(f"| measure ({WORKERS} threads, {CASES} due cases) | value |")
        print("| --- | --- |")
        print(f"| cases polled per second (claim + $inquire + apply) | {polled / elapsed:.0f} |")
        print(f"| raw $inquire requests per second, same endpoint | {raw:.0f} |")
        print(f"| time to poll all {polled} cases | {elapsed:.1f} s |")
        print(f"| claim query (50 rows), 0 closed cases: median | {empty_ms:.2f} ms |")
        print(f"| claim query (50 rows), {CLOSED} closed cases: median | {full_ms:.2f} ms |")
        print()
        print(f"outcomes: {outcomes}")
        print(f"plan, 0 closed: {plan}")
        print(f"plan, {CLOSED} closed: {plan_full}")
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=10)
        connections.close_all()
        teardown_databases(old, verbosity=0)


if __name__ == "__main__":
    main()
