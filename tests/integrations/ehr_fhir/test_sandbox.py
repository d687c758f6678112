import json

import time_machine

from cases.models import PriorAuthCase, Status
from integrations.ehr_fhir.intake import sync_practice
from integrations.ehr_fhir.models import EhrConnection, SyncRun
from integrations.ehr_fhir.sandbox import load_bundle
from integrations.ehr_fhir.sandbox_auth import sandbox_connection_fields
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
    EhrConnection.objects.create(practice=practice, **sandbox_connection_fields(live_server.url))
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
    EhrConnection.objects.create(practice=practice, **sandbox_connection_fields(live_server.url))
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


def test_the_sandbox_ehr_answers_no_read_without_a_token(client, settings, db):
    settings.SANDBOX_ENABLED = True
    load_bundle(json.loads(BUNDLE.read_text()))
    # the CapabilityStatement is public, as on any FHIR server; nothing else is
    assert client.get("/sandbox/ehr/fhir/metadata").status_code == 200
    for auth in ("", "Bearer not-a-token", "Basic dXNlcjpwYXNz"):
        response = client.get("/sandbox/ehr/fhir/Patient", HTTP_AUTHORIZATION=auth)
        assert response.status_code == 401
        assert response.json()["resourceType"] == "OperationOutcome"


def test_the_sandbox_ehr_token_endpoint_checks_the_client_assertion(client, practice, settings):
    from integrations.ehr_fhir.auth import client_assertion

    settings.SANDBOX_ENABLED = True
    connection = EhrConnection.objects.create(practice=practice, **sandbox_connection_fields("http://testserver"))
    form = {
        "grant_type": "client_credentials",
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
    }
    # a good assertion gets a token that opens the FHIR reads
    assertion = client_assertion(connection)
    answer = client.post("/sandbox/ehr/token", {**form, "client_assertion": assertion})
    assert answer.status_code == 200, answer.content
    token = answer.json()["access_token"]
    assert client.get("/sandbox/ehr/fhir/Patient", HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 200
    # the same assertion again (replay), an unknown client, or a key that is not the client's: refused
    assert client.post("/sandbox/ehr/token", {**form, "client_assertion": assertion}).status_code == 401
    stranger = EhrConnection(**{**sandbox_connection_fields("http://testserver"), "client_id": connection.client_id})
    assert (
        client.post("/sandbox/ehr/token", {**form, "client_assertion": client_assertion(stranger)}).status_code == 401
    )
    unknown = EhrConnection(**sandbox_connection_fields("http://testserver"))
    assert client.post("/sandbox/ehr/token", {**form, "client_assertion": client_assertion(unknown)}).status_code == 401
