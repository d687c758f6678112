import json

import pytest
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
