"""The medical-necessity summary (cases/summary.py): template draft, edits and the optional LLM rewrite."""

import json
import pydoc

from django.test import override_settings
from django.utils import timezone

from cases.models import CaseEvent, PriorAuthCase, RequirementStatus
from cases.summary import case_summary_set, summary_build, summary_llm_rewrite
from cases.tasks import rewrite_summary
from integrations.llm.models import SummaryRewrite
from tests import factories as f
from tests.integrations.llm.loopback import llm_endpoint


def test_summary_draft_uses_evidence_and_any_edit_clears_attestation(case, owner_clinician):
    # given a case with a met lab requirement and an attested summary
    req = f.RequirementFactory(
        rule=f.PayerRuleFactory(payer=case.payer),
        kind="lab",
        description="HbA1c",
        loinc_code="4548-4",
        lookback_days=90,
    )
    RequirementStatus.objects.create(
        case=case,
        requirement=req,
        state="met",
        evidence=[{"resource": "Observation/1", "date": "2026-01-05", "value": "7.9 %"}],
    )
    summary_build(case=case)
    assert "Key results: 7.9 % (2026-01-05)." in case.summary_text and case.summary_source == "template"
    assert case.patient.last_name not in case.summary_text  # minimum necessary: no name
    PriorAuthCase.objects.filter(pk=case.pk).update(
        summary_attested_by=owner_clinician, summary_attested_at=timezone.now(), summary_attested_text=case.summary_text
    )
    # when staff edit the text
    case_summary_set(case=case, text=case.summary_text + " Edited.", source="staff", actor=owner_clinician)
    # then the attestation is gone
    case.refresh_from_db()
    assert case.summary_attested_at is None and not case.summary_is_attested


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
    paths = ["cases.tasks.rewrite_summary", "integrations.ehr_fhir.tasks.rewrite_summary"]
    # when each path is resolved the way the cluster does and run
    results = [pydoc.locate(path)(case.pk) for path in paths]
    # then both run the same task: skipped with a permanent reason on the timeline
    assert results == [False, False]
    skipped = CaseEvent.objects.filter(case=case, message__startswith="LLM rewrite skipped: No LLM is configured")
    assert skipped.count() == 2
