"""The simulated practice (manage.py simulate_practice): deterministic per seed, and the invariants the
issue names, on a 2-provider, 5-day run through the real services on PostgreSQL — with the cluster's tasks
on real qcluster workers (a subprocess on the test database; the run starts and stops it), and inline.

transactional_db: the product's side effects run from `transaction.on_commit` (submission sends, texts),
which a test wrapped in one transaction would never fire.
"""

import json
import re
from collections import Counter

import pytest
from django.core.management import call_command

from cases.models import Order, PriorAuthCase, Status, Task
from cases.simulation import engine
from cases.simulation.report import figures
from cases.transitions import AWAITING_PAYER, DECISION_STATUSES

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("postgres_only")]

SMALL = {"seed": 7, "providers": 2, "days": 5}
VIA = re.compile(r"^(task|queue|orders|followup|sweep):\w+$")


def _invariants(run):
    practice = run.practice
    # Every order is not-required, decided, or waiting with a named clock.
    for order in Order.objects.filter(practice=practice).select_related("case"):
        case = order.case
        if case.status == Status.NOT_REQUIRED or case.status in DECISION_STATUSES:
            continue
        if case.status in AWAITING_PAYER:
            assert case.decision_due_at is not None, f"case {case.pk} awaits its payer with no deadline"
        else:
            # Not yet with the payer: in the queue (its stored order) against the appointment date.
            assert case.priority_key and order.scheduled_date, f"case {case.pk} ({case.status}) has no clock"
    # No case touched by the staff model without a task or queue entry that led to it.
    tasks = dict(Task.objects.filter(case__practice=practice).values_list("pk", "case_id"))
    for touch in run.touches:
        assert VIA.match(touch.via), touch
        kind, _, ident = touch.via.partition(":")
        if kind == "task":
            assert tasks[int(ident)] == touch.case_id, touch
    # No duplicate submission: one first request per case at the payer, every request key once.
    firsts = Counter(r.case_id for r in run.book.requests.values() if not r.update)
    assert firsts and max(firsts.values()) == 1
    # Every approval written back once and texted once.
    approved = PriorAuthCase.objects.filter(practice=practice, status=Status.APPROVED)
    assert approved.exists()
    for case in approved:
        assert case.ehr_write_backs.filter(decision=Status.APPROVED).count() == 1, case.pk
        assert case.outbound_messages.filter(template_kind="approved").count() == 1, case.pk


def test_same_seed_same_figures_on_real_workers_and_invariants_hold():
    # given a small practice and a seed, its tasks run by two real cluster workers
    first = engine.run_simulation(**SMALL, workers=2)
    # then the run keeps the invariants, and no task the workers ran raised
    _invariants(first)
    assert first.task_failures == []
    one = figures(first)
    engine.run_discard(first)
    # when the same seed runs again, on workers that deliver in whatever order they happen to
    second = engine.run_simulation(**SMALL, workers=2)
    two = figures(second)
    engine.run_discard(second)
    # then every figure is the same
    assert one == two
    assert one["workers"] == 2 and one["pa_cases"] > 10 and one["texts_sent"] > 0
    # and the run with the tasks inline (one process, each task at once) reaches the same figures
    inline = figures(engine.run_simulation(**SMALL, workers=0))
    assert {**inline, "workers": 2} == one
    # and the run's cluster left nothing behind: no queued task, no process
    from django_q.models import OrmQ

    assert not OrmQ.objects.exists()


def test_manual_baseline_keeps_the_invariants_that_apply_and_costs_more_staff_time():
    # given the same seed with the automation off, and on
    manual = engine.run_simulation(**SMALL, manual=True, workers=0)
    by_hand = figures(manual)
    # then nobody is touched without an order, task or follow-up that led to them, nothing is sent twice
    for touch in manual.touches:
        assert VIA.match(touch.via), touch
    firsts = Counter(r.case_id for r in manual.book.requests.values() if not r.update)
    assert max(firsts.values()) == 1
    # and no text goes out by hand (patients are phoned)
    assert by_hand["texts_sent"] == 0 and by_hand["patients_called_by_hand"] > 0
    engine.run_discard(manual)
    automated = figures(engine.run_simulation(**SMALL, workers=0))
    # when compared like for like, the baseline spends more staff time per provider
    assert by_hand["orders"] == automated["orders"]
    assert by_hand["staff_minutes_per_provider_per_week"] > automated["staff_minutes_per_provider_per_week"]


def test_command_prints_json_and_stores_the_run(settings, tmp_path, capsys):
    # given an empty media directory
    settings.MEDIA_ROOT = tmp_path
    # when the baseline runs from the command line with --json (its tasks on one real worker)
    call_command(
        "simulate_practice",
        "--providers",
        "1",
        "--days",
        "2",
        "--seed",
        "3",
        "--manual-baseline",
        "--json",
        "--workers",
        "1",
    )
    # then the figures are JSON, the run is stored, and the synthetic practice is gone again
    result = json.loads(capsys.readouterr().out)
    assert result["mode"] == "manual" and result["providers"] == 1 and result["workers"] == 1
    stored = list((tmp_path / "simulations").glob("*-manual.json"))
    assert len(stored) == 1 and json.loads(stored[0].read_text())["seed"] == 3
    assert not PriorAuthCase.objects.exists()


@pytest.mark.parametrize("argument", [["--providers", "0"], ["--days", "500"], ["--workers", "9"]])
def test_command_refuses_bad_sizes(argument):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError):
        call_command("simulate_practice", *argument)
