"""Benchmark: the queue page's server time next to the time of its SQL alone, and its query count.

    DATABASE_URL=postgres://…/somedb python bench/queue_page.py      # BENCH_QUEUE_CASES (default 100 000), BENCH_REPEAT

Creates a throwaway PostgreSQL database (never the one DATABASE_URL names),
bulk-seeds one practice with N cases (80 % open, statuses, payers, providers,
locations, assignees and service dates spread out), then requests the queue
through Django's test client (the whole stack: middleware, session, view,
templates) BENCH_REPEAT times per scenario. An execute wrapper times every
SQL statement, so each request gives (server time, SQL time, queries).
"""

from __future__ import annotations

import os
import random
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

# Run as a script, this folder is first on the import path: put the project
# root there instead (scripts here must not be named like stdlib modules).
sys.path[0] = str(Path(__file__).resolve().parents[1])
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "priorauth.settings")
os.environ.setdefault("LOG_LEVEL", "WARNING")
os.environ["TEST_DATABASE_NAME"] = os.environ.get("BENCH_DATABASE_NAME", "bench_queue_tmp")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import setup_databases, teardown_databases  # noqa: E402
from django.utils import timezone  # noqa: E402

N = int(os.environ.get("BENCH_QUEUE_CASES", 100_000))
REPEAT = int(os.environ.get("BENCH_REPEAT", 30))
BATCH = 5_000


def seed(n: int):
    from django.contrib.auth.models import Group

    from cases import models as cm
    from cases.transitions import OPEN_STATUSES
    from payers import models as pm

    rnd = random.Random(7)
    practice = cm.Practice.objects.create(name="Bench Practice")
    locations = [cm.Location.objects.create(practice=practice, name=f"Clinic {i}") for i in range(5)]
    providers = [
        cm.Provider.objects.create(
            practice=practice, first_name="P", last_name=f"Doc{i}", npi=f"{1_500_000_000 + i}", specialty="x"
        )
        for i in range(40)
    ]
    payers = [pm.Payer.objects.create(name=f"Payer {i}", cms_impacted=i % 3 == 0) for i in range(20)]
    rules = [
        pm.PayerRule.objects.create(
            payer=p, code="70551", category=rnd.choice(pm.Category.values), effective_from="2020-01-01"
        )
        for p in payers
    ]
    groups = {r: Group.objects.get_or_create(name=r)[0] for r in ("manager", "coordinator")}
    staff = []
    for i in range(12):
        u = cm.User.objects.create_user(f"bench{i}", password="x-bench-pass-1", practice=practice)
        u.groups.add(groups["manager" if i == 0 else "coordinator"])
        staff.append(u)
    open_statuses = sorted(OPEN_STATUSES)
    closed = ["approved", "closed", "cancelled", "not_required"]
    now = timezone.now()
    today = timezone.localdate()
    for start in range(0, n, BATCH):
        size = min(BATCH, n - start)
        patients = cm.Patient.objects.bulk_create(
            [
                cm.Patient(
                    practice=practice,
                    first_name=rnd.choice(["Ana", "Ben", "Cara", "Dev", "Eli", "Fay"]),
                    last_name=f"Name{start + i:06d}",
                    birth_date="1970-01-01",
                    mrn=f"B{start + i:07d}",
                )
                for i in range(size)
            ]
        )
        orders = cm.Order.objects.bulk_create(
            [
                cm.Order(
                    practice=practice,
                    patient=p,
                    code="70551",
                    description="MRI brain without contrast",
                    ordering_provider=rnd.choice(providers),
                    location=rnd.choice(locations),
                    scheduled_date=today + timedelta(days=rnd.randint(-5, 60)) if rnd.random() < 0.6 else None,
                )
                for p in patients
            ]
        )
        cases = []
        for o in orders:
            k = rnd.randrange(len(payers))
            status = rnd.choice(open_statuses) if rnd.random() < 0.8 else rnd.choice(closed)
            submitted = status in ("submitted", "pended", "appealed", "denied", "approved")
            cases.append(
                cm.PriorAuthCase(
                    practice=practice,
                    order=o,
                    patient=o.patient,
                    payer=payers[k],
                    rule=rules[k],
                    status=status,
                    urgency="expedited" if rnd.random() < 0.1 else "standard",
                    assignee=rnd.choice(staff) if rnd.random() < 0.7 else None,
                    decision_due_at=now + timedelta(hours=rnd.randint(-48, 14 * 24)) if submitted else None,
                    authorization_number=f"AUTH{o.pk}" if status == "approved" else "",
                    created_at=now - timedelta(days=rnd.randint(0, 90)),
                )
            )
        cm.PriorAuthCase.objects.bulk_create(cases)
    # bulk_create skips save(): the keys come from the refresh the hourly schedule runs (timed here).
    from cases.priority import case_priority_refresh

    t0 = time.perf_counter()
    written = case_priority_refresh()
    print(f"priority keys: {written} written by the full refresh in {time.perf_counter() - t0:.1f} s")
    t0 = time.perf_counter()
    again = case_priority_refresh()
    print(f"priority keys: a second refresh (nothing changed) wrote {again} in {time.perf_counter() - t0:.1f} s")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return staff[0], staff[1], payers[3]


def cursor_at(user, position: int) -> str:
    """The `after=` cursor a user reaches by pressing Next (position rows in): what the page-40 link carries."""
    from cases.models import PriorAuthCase

    row = PriorAuthCase.objects.visible_to(user).open().prioritized().values_list("priority_key", "pk")[position - 1]
    return f"{row[0]}.{row[1]}"


def explain(user) -> str:
    from cases.models import PriorAuthCase

    qs = PriorAuthCase.objects.visible_to(user).open().with_related().prioritized()[:51]
    return f"{qs.query}\n\n{qs.explain()}"


class SqlTimer:
    def __init__(self):
        self.seconds = 0.0
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        start = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.seconds += time.perf_counter() - start
            self.count += 1


def measure(client: Client, url: str, **headers) -> tuple[list[float], list[float], set[int]]:
    client.get(url, **headers)  # warm: template cache, connection
    server, sql, counts = [], [], set()
    for _ in range(REPEAT):
        timer = SqlTimer()
        with connection.execute_wrapper(timer):
            start = time.perf_counter()
            response = client.get(url, **headers)
            elapsed = time.perf_counter() - start
        assert response.status_code == 200, (url, response.status_code)
        server.append(elapsed)
        sql.append(timer.seconds)
        counts.add(timer.count)
    return server, sql, counts


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))] * 1000


def main() -> None:
    settings.DEBUG = False
    old = setup_databases(verbosity=0, interactive=False)
    try:
        t0 = time.perf_counter()
        manager, coordinator, payer = seed(N)
        print(f"seeded {N} cases in {time.perf_counter() - t0:.0f} s ({REPEAT} requests per scenario)")
        scenarios = [
            ("manager, everything, priority order", manager, "/?view=all", {}),
            ("coordinator, mine + unassigned", coordinator, "/?view=mine", {}),
            (
                "manager, one payer + overdue (htmx)",
                manager,
                f"/?view=all&payer={payer.pk}&overdue=on",
                {"HTTP_HX_REQUEST": "true"},
            ),
            ("manager, search by name", manager, "/?view=all&q=Name004242", {}),
            ("manager, page 40 (Next link: keyset)", manager, f"/?view=all&after={cursor_at(manager, 1950)}&n=40", {}),
            ("manager, page 40 (?page=40: OFFSET)", manager, "/?view=all&page=40", {}),
        ]
        print("SQL and plan of the first page's case query (manager, everything):")
        print(explain(manager))
        print("| scenario | server p50 ms | server p95 ms | SQL p50 ms | SQL p95 ms | p95 ratio | queries |")
        print("| --- | --- | --- | --- | --- | --- | --- |")
        for label, user, url, headers in scenarios:
            client = Client()
            client.force_login(user)
            server, sql, counts = measure(client, url, **headers)
            ratio = pct(server, 95) / max(pct(sql, 95), 0.001)
            print(
                f"| {label} | {pct(server, 50):.0f} | {pct(server, 95):.0f} | {pct(sql, 50):.0f} | "
                f"{pct(sql, 95):.0f} | {ratio:.2f} | {','.join(map(str, sorted(counts)))} |"
            )
        overhead = statistics.median(s - q for s, q in zip(server, sql, strict=True)) * 1000
        print(f"(last scenario: median server time outside SQL {overhead:.0f} ms)")
    finally:
        teardown_databases(old, verbosity=0)


if __name__ == "__main__":
    main()
