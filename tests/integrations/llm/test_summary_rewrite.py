"""The LLM rewrite of the medical-necessity summary (integrations/llm/rewrite.py) and its task,
against an OpenAI-compatible endpoint on loopback."""

import json
import pydoc

from django.test import override_settings

from cases.models import CaseEvent
from cases.summary import summary_build
from integrations.llm.models import SummaryRewrite
from integrations.llm.rewrite import summary_llm_rewrite
from integrations.llm.tasks import rewrite_summary
from tests.integrations.llm.loopback import llm_endpoint


def test_llm_rewrite_is_audited_and_sends_only_the_draft(case):
    # given an OpenAI-compatible endpoint on loopback and a template draft
    summary_build(case=case)
    draft = case.summary_text
    with llm_endpoint(answer="Rewritten summary.") as (base, seen):
        with override_settings(LLM_BASE_URL=base, LLM_MODEL="m", LLM_API_KEY="k"):
            # when the summary is rewritten
            audit = summary_llm_rewrite(case=case)
    # then the rewrite is applied, the prompt and response are stored, and no identifiers were sent
    path, auth, body = seen[-1]
    assert path == "/v1/chat/completions" and auth == "Bearer k" and body["model"] == "m"
    assert body["messages"][1]["content"] == draft
    assert case.patient.last_name not in json.dumps(body) and case.patient.mrn not in json.dumps(body)
    audit = SummaryRewrite.objects.get(pk=audit.pk)
    assert audit.response_text == "Rewritten summary." and audit.prompt == body["messages"]
    case.refresh_from_db()
    assert case.summary_text == "Rewritten summary." and case.summary_source == "llm"


def test_a_failed_rewrite_is_recorded_and_keeps_the_draft(case):
    # given a template draft and an LLM endpoint that is down
    summary_build(case=case)
    draft = case.summary_text
    with llm_endpoint(status=503, answer={"error": "overloaded"}) as (base, _):
        with override_settings(LLM_BASE_URL=base, LLM_MODEL="m"):
            # when the background task tries the rewrite
            done = rewrite_summary(case.pk)
    # then the attempt is on its audit row, the timeline says it was skipped, and the draft stands
    assert done is False
    audit = SummaryRewrite.objects.get(case=case)
    assert audit.error.startswith("HTTPError") and not audit.applied
    assert CaseEvent.objects.filter(case=case, message__startswith="LLM rewrite skipped").exists()
    case.refresh_from_db()
    assert case.summary_text == draft and case.summary_source == "template"


@override_settings(LLM_BASE_URL="", LLM_MODEL="")
def test_the_rewrite_task_answers_at_its_new_and_its_old_dotted_path(case):
    # given no LLM configured, and the task paths django-q stores (new ones, and ones queued before the move)
    paths = ["integrations.llm.tasks.rewrite_summary", "integrations.ehr_fhir.tasks.rewrite_summary"]
    # when each path is resolved the way the cluster does and run
    results = [pydoc.locate(path)(case.pk) for path in paths]
    # then both run the same task: skipped with a permanent reason on the timeline
    assert results == [False, False]
    skipped = CaseEvent.objects.filter(case=case, message__startswith="LLM rewrite skipped: No LLM is configured")
    assert skipped.count() == 2


def test_the_packet_task_enqueues_the_rewrite_at_its_canonical_path(case, monkeypatch):
    # given an LLM configured, and the EHR read and the queue stood in for
    monkeypatch.setattr("integrations.ehr_fhir.packet.assemble_packet", lambda *, case: {"read": 0})
    queued = []
    monkeypatch.setattr("django_q.tasks.async_task", lambda func, *args: queued.append((func, *args)))
    with override_settings(LLM_BASE_URL="http://127.0.0.1:9/v1", LLM_MODEL="m"):
        # when the packet task has drafted the summary
        pydoc.locate("integrations.ehr_fhir.tasks.assemble_packet")(case.pk)
    # then the rewrite is queued under the canonical path, which the cluster can resolve
    assert queued == [("integrations.llm.tasks.rewrite_summary", case.pk)]
    assert pydoc.locate(queued[0][0]) is rewrite_summary
