"""Benchmark: the morning sweep and the manager's dashboard at 100 000 open cases.

    BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/pa_bench_sweep .venv/bin/python bench/sweep_dashboard.py

Uses its own PostgreSQL database (created if missing, default `pa_bench_sweep`), never DATABASE_URL, so it cannot
fill a working database with 250 000 synthetic cases. The data is generated once (deterministic, seed 7) and kept;
`--rebuild` generates it again. Prints a Markdown table; the figures in docs/performance.md come from it.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
BENCH_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/pa_bench_sweep")
os.environ["DATABASE_URL"] = BENCH_URL
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "priorauth.settings")

OPEN_CASES = 100_000
DECIDED_CASES = 50_000
PRACTICE_NAME = "Bench practice (synthetic)"


def ensure_database() -> None:
    import psycopg

    name = BENCH_URL.rsplit("/", 1)[1]
    admin = BENCH_URL.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def generate() -> None:
    from django.db import connection, transaction
    from django.utils import timezone

    from cases.models import CaseEvent, Location, Order, Patient, Practice, PriorAuthCase, Provider, Status, Urgency
    from payers.models import Category, Payer, PayerRule

    rnd = random.Random(7)
    now = timezone.now()
    with transaction.atomic():
        practice = Practice.objects.create(name=PRACTICE_NAME, time_zone="America/Chicago")
        locations = [Location.objects.create(practice=practice, name=f"Site {i}") for i in range(4)]
        providers = [
            Provider.objects.create(
                practice=practice,
                first_name="Bench",
                last_name=f"Provider{i}",
                npi=f"{1900000000 + i}",
                specialty="Internal medicine",
                location=locations[i % 4],
            )
            for i in range(40)
        ]
        payers = [
            Payer.objects.get_or_create(
                name=f"Bench payer {i}",
                defaults={
                    "cms_impacted": i < 3,
                    "poll_interval_hours": rnd.choice([4, 8, 12, 24]),
                    "stall_threshold_hours": rnd.choice([48, 72, 96]),
                },
            )[0]
            for i in range(8)
        ]
        rules = [
            PayerRule.objects.create(
                payer=payers[i % 8], code=f"7{i:04d}", category=cat, effective_from=date(2020, 1, 1)
            )
            for i, cat in enumerate(Category.values)
        ]
        patients = Patient.objects.bulk_create(
            [
                Patient(
                    practice=practice,
                    first_name="Pat",
                    last_name=f"Bench{i}",
                    birth_date=date(1960, 1, 1),
                    mrn=f"B{i:07d}",
                )
                for i in range(20_000)
            ],
            batch_size=5000,
        )

    open_mix = [
        (Status.NEW, 5),
        (Status.GATHERING, 25),
        (Status.NEEDS_CLINICIAN, 8),
        (Status.READY, 10),
        (Status.SUBMITTED, 35),
        (Status.PENDED, 10),
        (Status.DENIED, 5),
        (Status.APPEALED, 2),
    ]
    statuses = [s for s, w in open_mix for _ in range(w)]

    def make(n: int, decided: bool):
        for start in range(0, n, 5000):
            orders, cases = [], []
            for _ in range(min(5000, n - start)):
                created = now - timedelta(hours=rnd.uniform(1, 24 * (120 if decided else 40)))
                scheduled = (now + timedelta(days=rnd.randint(-3, 30))).date() if rnd.random() < 0.6 else None
                orders.append(
                    Order(
                        practice=practice,
                        patient=rnd.choice(patients),
                        ordering_provider=rnd.choice(providers),
                        location=rnd.choice(locations),
                        code="70551",
                        description="MRI brain without contrast",
                        scheduled_date=scheduled,
                        created_at=created,
                    )
                )
            Order.objects.bulk_create(orders, batch_size=5000)
            for order in orders:
                payer = rnd.choice(payers)
                fields = {
                    "practice": practice,
                    "order": order,
                    "patient_id": order.patient_id,
                    "payer": payer,
                    "rule": rnd.choice(rules),
                    "urgency": Urgency.EXPEDITED if rnd.random() < 0.15 else Urgency.STANDARD,
                    "created_at": order.created_at,
                    "assignee": None,
                }
                if decided:
                    submitted = order.created_at + timedelta(hours=rnd.uniform(2, 72))
                    fields.update(
                        status=rnd.choice(
                            [Status.APPROVED, Status.APPROVED, Status.APPROVED, Status.DENIED, Status.CLOSED]
                        ),
                        submitted_at=submitted,
                        decided_at=min(now, submitted + timedelta(hours=rnd.lognormvariate(3.5, 0.8))),
                    )
                    fields["status_changed_at"] = fields["decided_at"]
                    if fields["status"] == Status.DENIED:
                        fields["denial_reason_code"] = rnd.choice(["CO-197", "CO-50", "N-115", "CO-15"])
                        fields["denial_reason_text"] = "Synthetic reason"
                else:
                    status = rnd.choice(statuses)
                    # most cases move every day or two; a tail has not moved for weeks
                    changed = max(order.created_at, now - timedelta(hours=rnd.expovariate(1 / 30)))
                    fields.update(status=status, status_changed_at=changed)
                    if status in (Status.SUBMITTED, Status.PENDED, Status.APPEALED, Status.DENIED):
                        fields["submitted_at"] = changed - timedelta(hours=rnd.uniform(0, 48))
                        fields["decision_due_at"] = fields["submitted_at"] + payer.decision_window(expedited=False)
                        fields["next_poll_at"] = (
                            now + timedelta(hours=rnd.uniform(-12, 12)) if rnd.random() < 0.7 else None
                        )
                    if status == Status.DENIED:
                        fields["decided_at"] = changed
                        fields["denial_reason_code"] = "CO-197"
                cases.append(PriorAuthCase(**fields))
            PriorAuthCase.objects.bulk_create(cases, batch_size=5000)
            events = []
            for case in cases:
                events.append(
                    CaseEvent(
                        case=case, kind=CaseEvent.Kind.SYSTEM, message="Order received", created_at=case.created_at
                    )
                )
                if case.submitted_at:
                    events.append(
                        CaseEvent(
                            case=case,
                            kind=CaseEvent.Kind.STATUS,
                            to_status=Status.SUBMITTED,
                            created_at=case.submitted_at,
                        )
                    )
                if case.decided_at:
                    to = Status.DENIED if case.status == Status.DENIED else Status.APPROVED
                    events.append(
                        CaseEvent(case=case, kind=CaseEvent.Kind.STATUS, to_status=to, created_at=case.decided_at)
                    )
            CaseEvent.objects.bulk_create(events, batch_size=5000)
            print(f"  {'decided' if decided else 'open'} cases: {start + len(cases)}", flush=True)

    make(OPEN_CASES, decided=False)
    make(DECIDED_CASES, decided=True)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def timed(fn, runs: int = 3) -> tuple[float, float]:
    values = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        values.append(time.perf_counter() - start)
    return min(values), statistics.median(values)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rebuild", action="store_true")
    args = parser.parse_args()
    ensure_database()
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from django.contrib.auth.models import Group
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from cases.metrics.figures import Filters, dashboard_metrics
    from cases.models import Practice, PriorAuthCase, User
    from cases.sweep.services import sweep_run

    practice = Practice.objects.filter(name=PRACTICE_NAME).first()
    if args.rebuild and practice:
        print("rebuild: use a fresh BENCH_DATABASE_URL (drop the database) instead", file=sys.stderr)
        sys.exit(2)
    if practice is None:
        print("generating synthetic data (once) …", flush=True)
        generate()
        practice = Practice.objects.get(name=PRACTICE_NAME)
    open_count = PriorAuthCase.objects.filter(practice=practice).open().count()
    total = PriorAuthCase.objects.filter(practice=practice).count()

    manager, _ = User.objects.get_or_create(username="bench-manager", defaults={"practice": practice})
    manager.groups.add(Group.objects.get_or_create(name="manager")[0])

    last = {}

    def sweep():
        last["sweep"] = sweep_run(practice=practice)

    sweep_min, sweep_med = timed(sweep)
    items = sum(last["sweep"].counts.values())
    today = timezone.localdate()
    filters = Filters(date_from=today - timedelta(days=29), date_to=today)
    with CaptureQueriesContext(connection) as ctx:
        dashboard_metrics(practice=practice, filters=filters)
    n_queries = len(ctx.captured_queries)  # read now: the query log is a bounded deque
    print(f"dashboard queries: {n_queries}")
    for q in ctx.captured_queries:
        print(f"  {float(q['time']):.3f}s {q['sql'][:150]}")
    dash_min, dash_med = timed(lambda: dashboard_metrics(practice=practice, filters=filters))
    payer_id = PriorAuthCase.objects.filter(practice=practice).values_list("payer_id", flat=True).first()
    filt = Filters(date_from=filters.date_from, date_to=filters.date_to, payer_id=payer_id)
    fdash_min, fdash_med = timed(lambda: dashboard_metrics(practice=practice, filters=filt))
    client = Client()
    client.force_login(manager)
    page_min, page_med = timed(lambda: client.get("/dashboard/").status_code == 200 or sys.exit("dashboard failed"))
    sweep_page_min, sweep_page_med = timed(
        lambda: client.get("/sweep/").status_code == 200 or sys.exit("sweep page failed")
    )

    print()
    print(f"open cases: {open_count}, all cases: {total}, sweep items: {items}, counts: {last['sweep'].counts}")
    print()
    print("| measure | min s | median s (3 runs) | target |")
    print("| --- | --- | --- | --- |")
    print(f"| sweep: {open_count} open cases → {items} items stored | {sweep_min:.2f} | {sweep_med:.2f} | < 2 s |")
    label = f"dashboard metrics, 30 days, no filter ({n_queries} queries)"
    print(f"| {label} | {dash_min:.3f} | {dash_med:.3f} | < 1 s |")
    print(f"| dashboard metrics, 30 days, one payer | {fdash_min:.3f} | {fdash_med:.3f} | < 1 s |")
    print(f"| GET /dashboard/ (queries + SVG + HTML) | {page_min:.3f} | {page_med:.3f} | |")
    print(f"| GET /sweep/ (manager, first bucket page) | {sweep_page_min:.3f} | {sweep_page_med:.3f} | |")


if __name__ == "__main__":
    main()
