import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
import time_machine
from django.test import override_settings
from django.utils import timezone

from cases.models import PriorAuthCase, RequirementStatus, Status
from integrations.ehr_fhir.intake import sync_practice
from integrations.ehr_fhir.models import EhrConnection, SummaryRewrite, SyncRun
from integrations.ehr_fhir.sandbox import load_bundle
from integrations.ehr_fhir.summary import case_summary_set, summary_build, summary_llm_rewrite
from tests import factories as f
from tests.integrations.ehr_fhir.conftest import BUNDLE, SYNTHEA_NPI


@time_machine.travel("2026-02-20 12:00Z")
def test_sandbox_ehr_serves_the_real_fhir_intake_path(live_server, practice, medicaid, synthea_provider):
    # given the Synthea bundle loaded into the built-in sandbox and an order for its patient
    load_bundle(json.loads(BUNDLE.read_text()))
    from integrations.ehr_fhir.models import SandboxResource

    patient = SandboxResource.objects.get(resource_type="Patient").resource_id
    pract = next(
        r.resource_id
        for r in SandboxResource.objects.filter(resource_type="Practitioner")
        if any(i.get("value") == SYNTHEA_NPI for i in r.body.get("identifier", []))
    )
    load_bundle(
        {
            "resourceType": "Bundle",
            "type": "collection",
            "entry": [
                {
                    "resource": {
                        "resourceType": "ServiceRequest",
                        "status": "active",
                        "intent": "order",
                        "priority": "routine",
                        "code": {"coding": [{"system": "http://www.ama-assn.org/go/cpt", "code": "70551"}]},
                        "subject": {"reference": f"Patient/{patient}"},
                        "requester": {"reference": f"Practitioner/{pract}"},
                        "occurrenceDateTime": "2026-03-02",
                    }
                }
            ],
        }
    )
    f.PayerRuleFactory(payer=medicaid[0], code="70551")
    EhrConnection.objects.create(practice=practice, base_url=f"{live_server.url}/sandbox/ehr/fhir/")
    # when intake runs against it over HTTP, twice
    run = sync_practice(practice=practice)
    again = sync_practice(practice=practice)
    # then the case opens with Medicaid from the Synthea Coverage, once
    assert run.run_state == SyncRun.RunState.SUCCEEDED, run.error
    assert again.run_state == SyncRun.RunState.SUCCEEDED and again.created == 0
    case = PriorAuthCase.objects.get()
    assert case.payer == medicaid[0] and case.status == Status.GATHERING


@pytest.mark.parametrize(
    ("who", "status"), [("coordinator", 302), ("manager", 302), ("front_desk", 403), ("owner_clinician", 403)]
)
def test_manual_order_form_is_for_coordinators_and_managers(
    client, request, practice, owner_provider, payer, who, status
):
    # given a user of the practice
    client.force_login(request.getfixturevalue(who))
    # when they enter a faxed order for a new patient
    response = client.post(
        "/orders/new/",
        {
            "first_name": "Fax",
            "last_name": "Order",
            "birth_date": "1960-04-04",
            "mrn": "FAX-1",
            "payer": payer.pk,
            "member_id": "M1",
            "ordering_provider": owner_provider.pk,
            "kind": "service",
            "code_system": "CPT",
            "code": "70551",
            "description": "MRI brain",
            "diagnosis_codes": "g43.909",
            "quantity": "1",
            "priority": "routine",
            "requested_date": "2026-03-01",
        },
    )
    # then only coordinators and managers get a case (opened by detection), others are refused
    assert response.status_code == status
    if status == 302:
        case = PriorAuthCase.objects.get()
        assert response.url == case.get_absolute_url()
        assert case.order.source == "manual" and case.order.diagnosis_codes == ["G43.909"]
        assert case.payer == payer
    else:
        assert not PriorAuthCase.objects.exists()


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


class _Llm(BaseHTTPRequestHandler):
    seen = []

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        _Llm.seen.append((self.path, self.headers.get("Authorization"), body))
        out = json.dumps({"choices": [{"message": {"role": "assistant", "content": "Rewritten summary."}}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, *args):
        pass


def test_llm_rewrite_is_audited_and_sends_only_the_draft(case):
    # given an OpenAI-compatible endpoint on loopback
    server = HTTPServer(("127.0.0.1", 0), _Llm)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    summary_build(case=case)
    draft = case.summary_text
    try:
        with override_settings(
            LLM_BASE_URL=f"http://127.0.0.1:{server.server_port}/v1", LLM_MODEL="m", LLM_API_KEY="k"
        ):
            # when the summary is rewritten
            audit = summary_llm_rewrite(case=case)
    finally:
        server.shutdown()
    # then the rewrite is applied, the prompt and response are stored, and no identifiers were sent
    path, auth, body = _Llm.seen[-1]
    assert path == "/v1/chat/completions" and auth == "Bearer k" and body["model"] == "m"
    assert body["messages"][1]["content"] == draft
    assert case.patient.last_name not in json.dumps(body) and case.patient.mrn not in json.dumps(body)
    audit = SummaryRewrite.objects.get(pk=audit.pk)
    assert audit.response_text == "Rewritten summary." and audit.prompt == body["messages"]
    case.refresh_from_db()
    assert case.summary_text == "Rewritten summary." and case.summary_source == "llm"
