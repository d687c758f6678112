"""The medical-necessity summary (cases/summary.py): template draft and edits.

The optional LLM rewrite is tested with its channel: tests/integrations/llm/test_summary_rewrite.py.
"""

from django.utils import timezone

from cases.models import PriorAuthCase, RequirementStatus
from cases.summary import case_summary_set, summary_build
from tests import factories as f


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
