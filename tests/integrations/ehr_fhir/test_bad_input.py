import pytest
import time_machine

from cases.models import Order, PriorAuthCase
from integrations.ehr_fhir.intake import sync_practice
from integrations.ehr_fhir.models import SyncRun
from tests.integrations.ehr_fhir.conftest import service_request, synthea_practitioner_id


@time_machine.travel("2026-02-20 12:00Z", tick=False)
@pytest.mark.parametrize(
    ("where", "mode", "message"),
    [
        ("ServiceRequest", "badjson", "not JSON"),
        ("ServiceRequest", "wrongtype", "a Patient where a Bundle was expected"),
        ("ServiceRequest", "500", "HTTP 500"),
        ("ServiceRequest", "timeout", "did not answer within 2 s"),
        ("ServiceRequest", "outcome", "OperationOutcome: search parameter not supported"),
        # the order's Patient read fails: the order must not be half taken in
        ("/Patient/", "outcome", "OperationOutcome"),
        ("/Patient/", "badjson", "not JSON"),
    ],
)
def test_bad_ehr_answer_fails_the_run_clearly_and_leaves_no_partial_case(
    practice, connection, ehr, medicaid, synthea_provider, where, mode, message
):
    # given an order in the EHR and a fault on the first matching request
    pid = ehr.create({"resourceType": "Patient", "birthDate": "1970-01-01", "name": [{"family": "Bad"}]})["id"]
    service_request(ehr, patient_id=pid, practitioner_id=synthea_practitioner_id(ehr))
    ehr.fault(where, mode)
    # when intake runs
    run = sync_practice(practice=practice)
    # then the run failed with a readable error and nothing of the order was stored
    assert run.run_state == SyncRun.RunState.FAILED
    assert message in run.error
    assert not Order.objects.exists() and not PriorAuthCase.objects.exists()
    # and nothing is lost: the next run takes the order in
    again = sync_practice(practice=practice)
    assert again.run_state == SyncRun.RunState.SUCCEEDED, again.error
    assert PriorAuthCase.objects.count() == 1
