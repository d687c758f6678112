"""Moving SummaryRewrite from ehr_fhir to llm moved code, not data: no row is lost either way.

The migrations are rolled back to before the move and forward again; the
rows of ehr_fhir_summaryrewrite are still there, and the admin permissions
follow the model (its content type is renamed).
"""

import pytest
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from integrations.llm.models import SummaryRewrite

BEFORE_MOVE = [("ehr_fhir", "0002_schedules"), ("llm", None)]


def _count() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM ehr_fhir_summaryrewrite")
        return cursor.fetchone()[0]


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)


@pytest.mark.django_db(transaction=True)
def test_rolling_the_move_back_and_forward_keeps_every_row(postgres_only, case):
    # given an audit row and the permission to view it
    SummaryRewrite.objects.create(case=case, model_name="m", endpoint="http://127.0.0.1:9/v1/chat/completions")
    before = _count()
    assert before == 1
    view = Permission.objects.get(codename="view_summaryrewrite")
    assert view.content_type.app_label == "llm"

    # when the move is rolled back, then the row stays and the permission goes back with the model
    _migrate(BEFORE_MOVE)
    assert _count() == before
    view.refresh_from_db()
    assert view.content_type.app_label == "ehr_fhir"

    # when it is applied again, then the row is still there, under the llm app
    _migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
    assert _count() == before
    assert SummaryRewrite.objects.filter(case=case).exists()
    view.refresh_from_db()
    assert view.content_type.app_label == "llm"
    ContentType.objects.clear_cache()
    assert ContentType.objects.get_for_model(SummaryRewrite).app_label == "llm"
