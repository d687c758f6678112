import time_machine

from cases.models import Coverage, Order, Patient, PriorAuthCase, Status, Task
from integrations.ehr_fhir.intake import sync_practice
from integrations.ehr_fhir.models import SyncRun
from tests import factories as f
from tests.integrations.ehr_fhir.conftest import service_request, synthea_practitioner_id


def _rule(payer, code="70551"):
    return f.PayerRuleFactory(payer=payer, code=code)


@time_machine.travel("2026-02-20 12:00Z", tick=False)
def test_intake_is_idempotent_across_two_syncs(practice, connection, ehr, medicaid, synthea_provider):
    # given a Synthea patient with Medicaid coverage and two orders in the EHR, and a rule requiring PA
    payer, plan = medicaid
    _rule(payer)
    patient_id = ehr.synthea_ids["Patient"][0]
    pract = synthea_practitioner_id(ehr)
    service_request(ehr, patient_id=patient_id, practitioner_id=pract)
    service_request(ehr, patient_id=patient_id, practitioner_id=pract, code="99213")

    # when intake runs twice
    first = sync_practice(practice=practice)
    second = sync_practice(practice=practice)

    # then the first creates one patient, one coverage, two orders and two cases; the second changes nothing
    assert first.run_state == SyncRun.RunState.SUCCEEDED, first.error
    assert (first.created, first.updated) == (2, 0)
    assert second.run_state == SyncRun.RunState.SUCCEEDED
    assert (second.created, second.updated) == (0, 0)
    assert Patient.objects.filter(practice=practice).count() == 1
    assert Coverage.objects.filter(patient__practice=practice, payer=payer, plan=plan).count() == 1
    assert Order.objects.filter(practice=practice).count() == 2
    assert PriorAuthCase.objects.filter(practice=practice).count() == 2
    mri = PriorAuthCase.objects.get(order__code="70551")
    assert mri.status == Status.GATHERING and mri.payer == payer


@time_machine.travel("2026-02-20 12:00Z", tick=False)
def test_order_without_coverage_becomes_a_coverage_gap(practice, connection, ehr, medicaid, synthea_provider):
    # given a new EHR patient with no Coverage at all
    pid = ehr.create(
        {"resourceType": "Patient", "name": [{"family": "Nocover", "given": ["Ann"]}], "birthDate": "1980-02-02"}
    )["id"]
    service_request(ehr, patient_id=pid, practitioner_id=synthea_practitioner_id(ehr))
    # when intake runs
    run = sync_practice(practice=practice)
    # then the case opens NEW with a coordinator task to confirm coverage
    assert run.run_state == SyncRun.RunState.SUCCEEDED, run.error
    case = PriorAuthCase.objects.get(patient__ehr_id=pid)
    assert case.status == Status.NEW and case.payer is None
    assert Task.objects.filter(case=case, dedupe_key="coverage", title="Confirm the patient's coverage").exists()


@time_machine.travel("2026-02-20 12:00Z", tick=False)
def test_stat_order_is_flagged_for_retro_authorization(practice, connection, ehr, medicaid, synthea_provider):
    # given a stat order (FHIR's emergency priority)
    service_request(
        ehr, patient_id=ehr.synthea_ids["Patient"][0], practitioner_id=synthea_practitioner_id(ehr), priority="stat"
    )
    # when intake runs
    sync_practice(practice=practice)
    # then the case is kept out of automation
    case = PriorAuthCase.objects.get()
    assert case.order.priority == Order.Priority.EMERGENCY
    assert case.status == Status.RETRO_AUTH


@time_machine.travel("2026-02-20 12:00Z", tick=False)
def test_sync_failing_part_way_resumes_without_duplicates(practice, connection, ehr, medicaid, synthea_provider):
    # given three orders, and the EHR failing on the Coverage read of the second order's patient
    _rule(medicaid[0])
    pract = synthea_practitioner_id(ehr)
    pids = [
        ehr.create({"resourceType": "Patient", "name": [{"family": f"P{i}"}], "birthDate": "1970-01-01"})["id"]
        for i in range(3)
    ]
    for pid in pids:
        service_request(ehr, patient_id=pid, practitioner_id=pract)
    ehr.fault(f"Coverage?patient=Patient%2F{pids[1]}", "500")

    # when intake runs, fails, and runs again
    failed = sync_practice(practice=practice)
    second_taken_in = Patient.objects.filter(ehr_id=pids[1]).exists()
    resumed = sync_practice(practice=practice)

    # then the failed run says why and took in only the first order, with no trace of the second
    assert failed.run_state == SyncRun.RunState.FAILED
    assert "HTTP 500" in failed.error
    assert failed.created == 1
    assert not second_taken_in  # its Patient row was rolled back with the order
    # and the next run resumes from the cursor: every order exactly once
    assert resumed.run_state == SyncRun.RunState.SUCCEEDED, resumed.error
    assert resumed.since == failed.cursor
    assert resumed.created == 2
    assert Order.objects.filter(practice=practice).count() == 3
    assert PriorAuthCase.objects.filter(practice=practice).count() == 3
