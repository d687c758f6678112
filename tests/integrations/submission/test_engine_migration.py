"""Moving the engine out of integrations.pas moved code, not data: no row is lost either way.

On a database holding the demo practice plus requests of every kind, the
migrations are rolled back to before the move and forward again; every row
of the four tables is still there, the schedules point at the engine's
tasks, and the admin permissions follow the models.
"""

import pytest
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django_q.models import Schedule

from cases.models import PriorAuthCase, Status
from integrations.submission.models import CaseTracking, Exchange, PayerLink, Submission

TABLES = ["pas_submission", "pas_exchange", "pas_casetracking", "pas_payerlink"]
BEFORE_MOVE = [("pas", "0005_subscription_schedules"), ("submission", None)]


def _counts() -> dict:
    with connection.cursor() as cursor:
        out = {}
        for table in TABLES:
            cursor.execute(f"SELECT count(*) FROM {table}")  # noqa: S608 (fixed names)
            out[table] = cursor.fetchone()[0]
    return out


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)


@pytest.mark.django_db(transaction=True)
def test_rolling_the_move_back_and_forward_keeps_every_row(postgres_only, capsys):
    call_command("seed_demo", "--base-url", "http://127.0.0.1:9")
    capsys.readouterr()
    # Rows of every kind the demo may not have: a request, an exchange, tracking, a link.
    case = PriorAuthCase.objects.filter(status=Status.SUBMITTED, payer__isnull=False).first()
    submission = Submission.objects.create(case=case, channel="pas", idempotency_key=f"case-{case.pk}-sub-99")
    Exchange.objects.create(case=case, payer=case.payer, submission=submission, operation="submit", url="x")
    CaseTracking.objects.get_or_create(case=case)
    PayerLink.objects.get_or_create(payer=case.payer)
    before = _counts()
    assert all(before.values()), before
    view = Permission.objects.get(codename="view_submission")
    assert view.content_type.app_label == "submission"

    _migrate(BEFORE_MOVE)
    assert _counts() == before
    assert set(Schedule.objects.filter(name__startswith="pas.").values_list("func", flat=True)) >= {
        "integrations.pas.tasks.poll_due_cases",
        "integrations.pas.tasks.send_due_submissions",
        "integrations.pas.tasks.escalate",
    }
    view.refresh_from_db()
    assert view.content_type.app_label == "pas"  # the permission went back with the model

    _migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
    assert _counts() == before
    assert Submission.objects.filter(pk=submission.pk).exists() and Exchange.objects.filter(submission=submission)
    funcs = dict(Schedule.objects.filter(name__startswith="submission.").values_list("name", "func"))
    assert funcs == {
        "submission.poll_due_cases": "integrations.submission.tasks.poll_due_cases",
        "submission.send_due_submissions": "integrations.submission.tasks.send_due_submissions",
        "submission.escalate": "integrations.submission.tasks.escalate",
        "submission.heartbeat": "integrations.submission.liveness.heartbeat",
    }
    assert not Schedule.objects.filter(name__startswith="pas.", func__contains=".pas.tasks.poll").exists()
    view.refresh_from_db()
    assert view.content_type.app_label == "submission"
