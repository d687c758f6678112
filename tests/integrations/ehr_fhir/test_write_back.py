import datetime as dt

import time_machine

from cases.models import CaseEvent, Status, Task
from cases.transitions import transition
from integrations.ehr_fhir.models import EhrConnection, WriteBack
from integrations.ehr_fhir.writeback import writeback_send
from tests import factories as f


def _submitted_case(practice, ehr, payer):
    pid = ehr.create({"resourceType": "Patient", "birthDate": "1970-01-01", "name": [{"family": "Wb"}]})["id"]
    patient = f.PatientFactory(practice=practice, ehr_id=pid)
    order = f.OrderFactory(practice=practice, patient=patient, ehr_id="ServiceRequest/abc")
    return f.CaseFactory(order=order, payer=payer, status=Status.SUBMITTED)


def _approve(case):
    transition(
        case,
        Status.APPROVED,
        reason="A1",
        fields={
            "authorization_number": "AUTH-778",
            "auth_effective_start": dt.date(2026, 3, 1),
            "auth_effective_end": dt.date(2026, 6, 30),
            "units_approved": 1,
        },
    )


@time_machine.travel("2026-02-20 12:00Z")
def test_write_back_creates_exactly_one_resource_when_the_job_runs_twice(practice, connection, ehr, payer):
    # given an approved case whose EHR allows Task write-back
    case = _submitted_case(practice, ehr, payer)
    _approve(case)
    wb = WriteBack.objects.get(case=case)
    assert wb.resource_type == "Task" and wb.state == WriteBack.State.PENDING
    # when the job runs, and runs again as if its first answer had been lost
    writeback_send(write_back_id=wb.pk)
    WriteBack.objects.filter(pk=wb.pk).update(state=WriteBack.State.PENDING)
    writeback_send(write_back_id=wb.pk)
    # then the chart has exactly one Task with the business identifier, carrying the authorization number
    found = ehr.search(f"Task?identifier={wb.identifier_system}|{wb.identifier_value}")
    assert len(found) == 1
    assert found[0]["output"][0]["valueString"] == "AUTH-778"
    assert [r["ifNoneExist"] for r in ehr.requests_log() if r["method"] == "POST" and r["path"] == "/Task"] == [
        f"identifier={wb.identifier_system}|{wb.identifier_value}"
    ] * 2
    wb.refresh_from_db()
    assert wb.state == WriteBack.State.DONE and wb.ehr_resource_id == found[0]["id"]


@time_machine.travel("2026-02-20 12:00Z")
def test_failed_write_back_is_retried_with_backoff_and_shown_on_the_case(practice, connection, ehr, payer):
    # given an approved case and an EHR answering 500 once
    case = _submitted_case(practice, ehr, payer)
    _approve(case)
    wb = WriteBack.objects.get(case=case)
    ehr.fault("/Task", "500")
    # when the job runs
    writeback_send(write_back_id=wb.pk)
    # then the row waits for a retry, and the timeline says so
    wb.refresh_from_db()
    assert wb.state == WriteBack.State.RETRY and wb.attempts == 1
    assert wb.next_attempt_at > dt.datetime.now(dt.UTC)
    assert CaseEvent.objects.filter(case=case, kind=CaseEvent.Kind.WRITE_BACK, message__contains="retry").exists()
    # and a run before the retry time does nothing, one after it writes
    assert writeback_send(write_back_id=wb.pk) is None
    with time_machine.travel(wb.next_attempt_at + dt.timedelta(seconds=1)):
        writeback_send(write_back_id=wb.pk)
    wb.refresh_from_db()
    assert wb.state == WriteBack.State.DONE


@time_machine.travel("2026-02-20 12:00Z")
def test_connection_without_write_capability_records_not_supported(practice, connection, ehr, payer):
    # given an EHR that accepts no writes
    EhrConnection.objects.filter(pk=connection.pk).update(write_resource="")
    case = _submitted_case(practice, ehr, payer)
    # when the payer denies
    transition(case, Status.DENIED, reason="A3")
    # then the outbox row and the timeline say write-back is not supported, and nothing was sent
    wb = WriteBack.objects.get(case=case)
    assert wb.state == WriteBack.State.UNSUPPORTED
    assert CaseEvent.objects.filter(case=case, message__startswith="Write-back not supported").exists()
    assert not [r for r in ehr.requests_log() if r["method"] == "POST" and r["path"] != "/Patient"]
    assert not Task.objects.filter(case=case).exists()
