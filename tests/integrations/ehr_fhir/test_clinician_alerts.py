"""A task waiting for a clinician also goes to the EHR, addressed to the ordering practitioner."""

import pytest
import time_machine

from cases.actions import task_complete
from cases.models import Status, Task
from cases.services import task_create
from integrations.ehr_fhir.models import EhrConnection, WriteBack
from integrations.ehr_fhir.writeback import writeback_send
from tests import factories as f

ASKED = "Send the physical therapy notes of the last 6 weeks."


def _case(practice, ehr, payer):
    pid = ehr.create({"resourceType": "Patient", "birthDate": "1970-01-01", "name": [{"family": "Al"}]})["id"]
    provider = f.ProviderFactory(practice=practice, ehr_id="pract-9")
    order = f.OrderFactory(
        practice=practice,
        patient=f.PatientFactory(practice=practice, ehr_id=pid),
        ordering_provider=provider,
        ehr_id="ServiceRequest/sr-9",
        description="MRI lumbar spine",
    )
    return f.CaseFactory(order=order, payer=payer, status=Status.PENDED)


def _ask(case):
    return task_create(
        case=case,
        kind=Task.Kind.ANSWER_INFO_REQUEST,
        title="Payer asks for more information",
        detail=f"The payer's request, as sent:\n{ASKED}",
    )


def _send_alerts(case):
    for wb in WriteBack.objects.filter(case=case, purpose="alert", state="pending").order_by("pk"):
        writeback_send(write_back_id=wb.pk)


@pytest.mark.parametrize("shape", ["Communication", "Task"])
@time_machine.travel("2026-02-20 12:00Z")
def test_info_request_alerts_the_practitioner_and_closes_when_answered(shape, practice, connection, ehr, payer):
    # given a connection that sends clinician alerts as `shape`
    EhrConnection.objects.filter(pk=connection.pk).update(alert_resource=shape)
    case = _case(practice, ehr, payer)
    # when the payer's information request becomes a task, and the job runs twice
    task = _ask(case)
    _send_alerts(case)
    WriteBack.objects.filter(case=case, purpose="alert").update(state="pending", ehr_resource_id="")
    _send_alerts(case)
    # then the EHR has one alert to the ordering practitioner about the order
    [alert] = ehr.search(f"{shape}?identifier=urn:priorauth:pa-alert|pa-task-{task.pk}")
    if shape == "Communication":
        assert alert["recipient"] == [{"reference": "Practitioner/pract-9"}]
        assert alert["about"] == [{"reference": "ServiceRequest/sr-9"}] and alert["status"] == "in-progress"
        text = alert["payload"][0]["contentString"]
    else:
        assert alert["owner"] == {"reference": "Practitioner/pract-9"} and alert["status"] == "requested"
        text = alert["description"]
    # with what the EHR already holds and a link to the case, not the payer's letter
    assert "MRI lumbar spine" in text and f"/cases/{case.pk}/" in text
    assert ASKED not in text

    # when a clinician answers it here
    task_complete(task=task, actor=None)
    _send_alerts(case)
    # then the EHR's copy is completed, not duplicated
    [done] = ehr.search(f"{shape}?identifier=urn:priorauth:pa-alert|pa-task-{task.pk}")
    assert done["id"] == alert["id"] and done["status"] == "completed"


@time_machine.travel("2026-02-20 12:00Z")
def test_no_alert_leaves_the_app_when_the_connection_sends_none(practice, connection, ehr, payer):
    # given a connection without clinician alerts (the default)
    case = _case(practice, ehr, payer)
    # when a clinician task is made
    _ask(case)
    # then nothing is queued for the EHR
    assert not WriteBack.objects.filter(case=case, purpose="alert").exists()
