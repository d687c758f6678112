import json

import time_machine

from cases.models import PriorAuthCase, Status
from integrations.ehr_fhir.intake import sync_practice
from integrations.ehr_fhir.models import EhrConnection, SyncRun
from integrations.ehr_fhir.sandbox import load_bundle
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


@time_machine.travel("2026-02-20 12:00Z")
def test_sandbox_takes_the_chart_entry_and_its_update(live_server, practice, payer):
    # given the demo's sandbox EHR as the connection, and a submitted case of a sandbox patient
    from cases.transitions import transition
    from integrations.ehr_fhir.models import SandboxResource, WriteBack
    from integrations.ehr_fhir.writeback import writeback_send

    load_bundle(json.loads(BUNDLE.read_text()))
    patient = SandboxResource.objects.get(resource_type="Patient").resource_id
    EhrConnection.objects.create(practice=practice, base_url=f"{live_server.url}/sandbox/ehr/fhir/")
    order = f.OrderFactory(practice=practice, patient=f.PatientFactory(practice=practice, ehr_id=patient))
    case = f.CaseFactory(order=order, payer=payer, status=Status.READY)
    # when it is submitted and then denied, each written back
    transition(case, Status.SUBMITTED, reason="sent")
    transition(case, Status.DENIED, reason="A3")
    for wb in WriteBack.objects.filter(case=case).order_by("pk"):
        writeback_send(write_back_id=wb.pk)
    # then the sandbox holds one Task for the case, now completed
    assert set(WriteBack.objects.filter(case=case).values_list("state", flat=True)) == {"done"}
    [task] = SandboxResource.objects.filter(resource_type="Task")
    assert task.body["status"] == "completed" and task.body["businessStatus"]["text"] == "denied"
