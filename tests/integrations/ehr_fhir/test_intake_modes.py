"""The three ways a connection finds orders: all-patient search, per-patient search, bulk Group $export."""

from urllib.parse import parse_qs

import time_machine

from cases.models import Coverage, Order, PriorAuthCase
from integrations.ehr_fhir.intake import sync_practice
from integrations.ehr_fhir.models import EhrConnection, PhiAccessLog, SyncRun
from tests import factories as f
from tests.integrations.ehr_fhir.conftest import day, service_request, synthea_practitioner_id

NOW = "2026-02-20 15:00Z"
ORDER_TYPES = ["ServiceRequest", "MedicationRequest", "DeviceRequest"]


def _group(ehr, *patient_ids):
    return ehr.create(
        {
            "resourceType": "Group",
            "type": "person",
            "actual": True,
            "name": "Active patients",
            "member": [{"entity": {"reference": f"Patient/{pid}"}} for pid in patient_ids],
        }
    )


def _mode(connection, mode, group=None, **extra):
    EhrConnection.objects.filter(pk=connection.pk).update(
        intake_mode=mode, bulk_group_id=group["id"] if group else "", **extra
    )


@time_machine.travel(NOW, tick=False)
def test_per_patient_search_finds_orders_where_all_patient_search_is_refused(
    practice, connection, ehr, medicaid, synthea_provider
):
    # given an EHR that refuses order searches without a patient, and a Group of the practice's active patients
    ehr.set_profile(patientSearchOnly=ORDER_TYPES)
    f.PayerRuleFactory(payer=medicaid[0], code="70551")
    patient_id = ehr.synthea_ids["Patient"][0]
    sr = service_request(ehr, patient_id=patient_id, practitioner_id=synthea_practitioner_id(ehr))
    group = _group(ehr, patient_id)
    # when the connection searches across all patients
    refused = sync_practice(practice=practice)
    # then the run fails with the EHR's words
    assert refused.run_state == SyncRun.RunState.FAILED
    assert "search needs a patient" in refused.error
    # when it searches per patient over the Group
    _mode(connection, EhrConnection.IntakeMode.PER_PATIENT, group)
    run = sync_practice(practice=practice)
    # then the order is taken in, each search names the patient, and each is in the PHI access log
    assert run.run_state == SyncRun.RunState.SUCCEEDED, run.error
    assert run.created == 1
    assert Order.objects.filter(ehr_id=f"ServiceRequest/{sr['id']}").exists()
    searches = [r for r in ehr.requests_log() if r["method"] == "GET" and r["path"] == "/ServiceRequest"]
    assert searches and all(f"patient=Patient%2F{patient_id}" in r["query"] for r in searches[1:])
    assert PhiAccessLog.objects.filter(resource_type="ServiceRequest", patient_ehr_id=patient_id).exists()
    # and a second run reads only what changed since the first
    again = sync_practice(practice=practice)
    assert (again.created, again.updated) == (0, 0)
    last = [r for r in ehr.requests_log() if r["path"] == "/ServiceRequest"][-1]
    assert "_lastUpdated=ge" in last["query"]


def _export_requests(ehr):
    return [r for r in ehr.requests_log() if r["path"].endswith("/$export")]


@time_machine.travel(NOW, tick=False)
def test_bulk_export_takes_orders_coverage_and_schedule_from_ndjson(
    practice, connection, ehr, medicaid, synthea_provider
):
    # given an EHR that only offers system reads through Group/$export (and no Appointment)
    ehr.set_profile(patientSearchOnly=ORDER_TYPES, noResource=["Appointment"], exportPolls=1, retryAfter=0)
    payer, plan = medicaid
    f.PayerRuleFactory(payer=payer, code="70551")
    patient_id = ehr.synthea_ids["Patient"][0]
    sr = service_request(ehr, patient_id=patient_id, practitioner_id=synthea_practitioner_id(ehr))
    ehr.create(
        {
            "resourceType": "Encounter",
            "status": "planned",
            "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
            "subject": {"reference": f"Patient/{patient_id}"},
            "basedOn": [{"reference": f"ServiceRequest/{sr['id']}"}],
            "period": {"start": "2026-03-12T13:00:00Z"},
        }
    )
    _mode(connection, EhrConnection.IntakeMode.BULK, _group(ehr, patient_id), has_appointment=False)
    # when intake runs
    run = sync_practice(practice=practice)
    # then one export was kicked off asynchronously with the types we read, polled, read and released
    assert run.run_state == SyncRun.RunState.SUCCEEDED, run.error
    kickoff = _export_requests(ehr)
    assert len(kickoff) == 1 and kickoff[0]["prefer"] == "respond-async"
    query = parse_qs(kickoff[0]["query"].lstrip("?"))
    assert query["_type"] == ["Patient,Coverage,ServiceRequest,MedicationRequest,DeviceRequest,Encounter"]
    assert "_since" not in query
    log = ehr.requests_log()
    assert [r["method"] for r in log if r["path"].startswith("/bulkstatus/")] == ["GET", "GET", "DELETE"]
    # and the order, its patient's coverage and its Encounter date came from the NDJSON files alone
    order = Order.objects.get(ehr_id=f"ServiceRequest/{sr['id']}")
    assert order.scheduled_date == day("2026-03-12") and order.scheduled_source == "ehr"
    assert Coverage.objects.filter(patient=order.patient, payer=payer).exists()
    assert PriorAuthCase.objects.get(order=order).payer == payer
    assert not [r for r in log if r["path"] in ("/Patient", f"/Patient/{patient_id}", "/Coverage")]
    assert run.cursor["bulk_since"] and "bulk_pending" not in run.cursor

    # when the next sync runs
    with time_machine.travel("2026-02-20 15:05Z", tick=False):
        again = sync_practice(practice=practice)
    # then it asks only for changes since the server's transactionTime of the previous export
    assert again.run_state == SyncRun.RunState.SUCCEEDED, again.error
    query = parse_qs(_export_requests(ehr)[-1]["query"].lstrip("?"))
    assert query["_since"] == [run.cursor["bulk_since"]]
    assert (again.created, again.updated) == (0, 0)


@time_machine.travel(NOW, tick=False)
def test_a_long_running_export_is_resumed_by_the_next_sync_not_started_again(
    practice, connection, ehr, medicaid, synthea_provider
):
    # given an export that takes several polls, and a sync allowed to wait no time at all
    ehr.set_profile(exportPolls=3, retryAfter=0)
    f.PayerRuleFactory(payer=medicaid[0], code="70551")
    patient_id = ehr.synthea_ids["Patient"][0]
    sr = service_request(ehr, patient_id=patient_id, practitioner_id=synthea_practitioner_id(ehr))
    _mode(connection, EhrConnection.IntakeMode.BULK, _group(ehr, patient_id), bulk_wait_seconds=0)
    # when the first sync runs
    first = sync_practice(practice=practice)
    # then it leaves the export running and says so
    assert first.run_state == SyncRun.RunState.SUCCEEDED
    assert "still running" in first.error and first.cursor["bulk_pending"]
    assert not Order.objects.exists()
    # when later syncs run (with time to wait)
    EhrConnection.objects.filter(pk=connection.pk).update(bulk_wait_seconds=5)
    second = sync_practice(practice=practice)
    # then they poll the same export to its end: one kick-off in all, and the order is in
    assert second.run_state == SyncRun.RunState.SUCCEEDED, second.error
    assert len(_export_requests(ehr)) == 1
    assert Order.objects.filter(ehr_id=f"ServiceRequest/{sr['id']}").exists()


@time_machine.travel(NOW, tick=False)
def test_bulk_export_of_an_unknown_group_fails_with_the_ehr_reason(practice, connection, ehr):
    # given a connection naming a Group the EHR does not have
    EhrConnection.objects.filter(pk=connection.pk).update(intake_mode="bulk", bulk_group_id="no-such-group")
    # when intake runs
    run = sync_practice(practice=practice)
    # then the run fails with the EHR's answer, and nothing is left pending
    assert run.run_state == SyncRun.RunState.FAILED
    assert "refused the bulk export: HTTP 404" in run.error and "Group not found" in run.error
    assert "bulk_pending" not in run.cursor


@time_machine.travel(NOW, tick=False)
def test_a_server_error_while_polling_keeps_the_export_for_the_next_sync(
    practice, connection, ehr, medicaid, synthea_provider
):
    # given a bulk connection and a status URL that answers 500 once
    ehr.set_profile(exportPolls=1, retryAfter=0)
    f.PayerRuleFactory(payer=medicaid[0], code="70551")
    patient_id = ehr.synthea_ids["Patient"][0]
    sr = service_request(ehr, patient_id=patient_id, practitioner_id=synthea_practitioner_id(ehr))
    _mode(connection, EhrConnection.IntakeMode.BULK, _group(ehr, patient_id))
    ehr.fault("/bulkstatus/", "500")
    # when a sync runs, then another
    failed = sync_practice(practice=practice)
    retried = sync_practice(practice=practice)
    # then the first fails with the reason but keeps the export; the second polls it to the end (one kick-off)
    assert failed.run_state == SyncRun.RunState.FAILED and "HTTP 500" in failed.error
    assert failed.cursor["bulk_pending"]
    assert retried.run_state == SyncRun.RunState.SUCCEEDED, retried.error
    assert len(_export_requests(ehr)) == 1
    assert Order.objects.filter(ehr_id=f"ServiceRequest/{sr['id']}").exists()
