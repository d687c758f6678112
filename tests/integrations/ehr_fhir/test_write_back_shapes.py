"""Every write-back shape against the FHIR peer: one resource per case, created once, updated on every
status the chart shows, never duplicated by a retry."""

import base64
import datetime as dt

import pytest
import requests
import time_machine

from cases.models import Status, Task
from cases.services import task_create
from cases.transitions import transition
from integrations.ehr_fhir.models import EhrConnection, WriteBack
from integrations.ehr_fhir.writeback import writeback_send
from tests import factories as f

NOW = "2026-02-20 12:00Z"
ASKED = "Send the physical therapy notes of the last 6 weeks."
SHAPES = ["ClaimResponse", "Task", "DocumentReference", "QuestionnaireResponse"]


def _case(practice, ehr, payer, status=Status.SUBMITTED):
    pid = ehr.create({"resourceType": "Patient", "birthDate": "1970-01-01", "name": [{"family": "Wb"}]})["id"]
    patient = f.PatientFactory(practice=practice, ehr_id=pid)
    provider = f.ProviderFactory(practice=practice, ehr_id="pract-1")
    order = f.OrderFactory(practice=practice, patient=patient, ordering_provider=provider, ehr_id="ServiceRequest/abc")
    return f.CaseFactory(order=order, payer=payer, status=status)


def _send_all(case):
    for wb in WriteBack.objects.filter(case=case, state=WriteBack.State.PENDING).order_by("pk"):
        writeback_send(write_back_id=wb.pk)


def _pend(case):
    transition(case, Status.PENDED, reason="A4")
    task_create(
        case=case,
        kind=Task.Kind.ANSWER_INFO_REQUEST,
        title="Payer asks for more information",
        detail=f"The payer's request, as sent:\n{ASKED}\n\nOriginal packet: 2 document(s)",
    )


def _approve(case, to=Status.APPROVED, number="AUTH-778"):
    transition(
        case,
        to,
        reason="A1",
        fields={
            "authorization_number": number,
            "auth_effective_start": dt.date(2026, 3, 1),
            "auth_effective_end": dt.date(2026, 6, 30),
            "units_approved": 1,
        },
    )


def _in_chart(ehr, rtype, case):
    return ehr.search(f"{rtype}?identifier=urn:priorauth:pa-case|pa-case-{case.pk}")


def _versions(ehr, rtype, rid):
    return len(requests.get(f"{ehr.base}/{rtype}/{rid}/_history", timeout=10).json().get("entry", []))


def _text(resource):
    if resource["resourceType"] == "DocumentReference":
        return base64.b64decode(resource["content"][0]["attachment"]["data"]).decode()
    if resource["resourceType"] == "QuestionnaireResponse":
        return next(i["answer"][0]["valueString"] for i in resource["item"] if i["linkId"] == "summary")
    return resource.get("description") or resource.get("disposition")


@pytest.mark.parametrize("shape", SHAPES)
@time_machine.travel(NOW)
def test_each_shape_is_created_once_and_updated_through_pended_to_approved(shape, practice, connection, ehr, payer):
    # given a connection writing `shape`, and a case the payer has
    EhrConnection.objects.filter(pk=connection.pk).update(write_resource=shape)
    case = _case(practice, ehr, payer, status=Status.READY)
    transition(case, Status.SUBMITTED, reason="sent")
    _send_all(case)
    # then the chart has one resource saying it is with the payer
    [first] = _in_chart(ehr, shape, case)
    assert "submitted to the payer" in _text(first)

    # when the payer pends with a request, and the job runs
    _pend(case)
    _send_all(case)
    # then the same resource now carries the payer's request
    [pended] = _in_chart(ehr, shape, case)
    assert pended["id"] == first["id"] and ASKED in _text(pended)

    # when the payer approves, and the job runs twice as if its answer had been lost
    _approve(case)
    last = WriteBack.objects.filter(case=case).latest("pk")
    writeback_send(write_back_id=last.pk)
    WriteBack.objects.filter(pk=last.pk).update(state=WriteBack.State.PENDING, ehr_resource_id="")
    writeback_send(write_back_id=last.pk)
    # then still one resource, updated (not replaced), with the decision in the shape's own fields
    [final] = _in_chart(ehr, shape, case)
    assert final["id"] == first["id"]
    assert _versions(ehr, shape, final["id"]) >= 3
    assert "approved" in _text(final) and "AUTH-778" in _text(final)
    if shape == "ClaimResponse":
        assert final["use"] == "preauthorization" and final["outcome"] == "complete"
        assert final["preAuthRef"] == "AUTH-778"
        assert final["preAuthPeriod"] == {"start": "2026-03-01", "end": "2026-06-30"}
        action = final["item"][0]["adjudication"][0]["extension"][0]
        assert action["url"] == "http://hl7.org/fhir/us/davinci-pas/StructureDefinition/extension-reviewAction"
        assert action["extension"][0]["valueCodeableConcept"]["coding"][0]["code"] == "A1"
        assert pended["outcome"] == "queued"
    elif shape == "Task":
        assert (pended["status"], pended["statusReason"]["text"]) == ("on-hold", ASKED)
        assert final["status"] == "completed" and final["businessStatus"]["text"] == "approved"
        assert final["owner"] == {"reference": "Practitioner/pract-1"}
        assert final["focus"] == {"reference": "ServiceRequest/abc"}
        assert final["output"][0]["valueString"] == "AUTH-778"
    elif shape == "DocumentReference":
        assert (pended["docStatus"], final["docStatus"]) == ("preliminary", "final")
        assert final["content"][0]["attachment"]["contentType"].startswith("text/plain")
    else:
        assert final["questionnaire"] == connection.questionnaire_url
        assert (pended["status"], final["status"]) == ("in-progress", "completed")
    assert set(WriteBack.objects.filter(case=case).values_list("state", flat=True)) == {WriteBack.State.DONE}


@time_machine.travel(NOW)
def test_a_changed_decision_updates_the_entry_partial_then_appeal_then_full(practice, connection, ehr, payer):
    # given a partial approval written to the chart as a Task
    case = _case(practice, ehr, payer)
    _approve(case, to=Status.PARTIALLY_APPROVED, number="AUTH-1")
    _send_all(case)
    # when the practice appeals and the payer then approves in full
    transition(case, Status.APPEALED, reason="appeal filed")
    _send_all(case)
    appealed = _in_chart(ehr, "Task", case)
    _approve(case, number="AUTH-2")
    _send_all(case)
    # then there is still one Task, in progress while appealed and now completed with the new number
    [task] = _in_chart(ehr, "Task", case)
    assert appealed[0]["status"] == "in-progress" and appealed[0]["businessStatus"]["text"] == "under appeal"
    assert task["id"] == appealed[0]["id"] and task["output"][0]["valueString"] == "AUTH-2"
    assert [r["method"] for r in ehr.requests_log() if r["path"].startswith("/Task")].count("POST") == 1


@pytest.mark.parametrize(
    ("path", "task_status", "said"),
    [
        ([Status.APPROVED, Status.EXPIRED], "completed", "expired before the service was done"),
        ([Status.CANCELLED], "cancelled", "cancelled"),
    ],
)
@time_machine.travel(NOW)
def test_expired_and_cancelled_are_written(path, task_status, said, practice, connection, ehr, payer):
    # given a submitted case
    case = _case(practice, ehr, payer)
    # when it moves along `path`
    for status in path:
        if status == Status.APPROVED:
            _approve(case)
        else:
            transition(case, status, reason="test")
    _send_all(case)
    # then the chart's one Task ends in the matching state
    [task] = _in_chart(ehr, "Task", case)
    assert (task["status"], task["businessStatus"]["text"]) == (task_status, said)


@time_machine.travel(NOW)
def test_an_ehr_refusing_the_shape_fails_permanently_with_a_task_for_staff(practice, connection, ehr, payer):
    # given an EHR that refuses Task writes (as eClinicalWorks does) and a connection still set to Task
    ehr.set_profile(refuseWrite=["Task"])
    case = _case(practice, ehr, payer)
    # when a decision is written
    _approve(case)
    _send_all(case)
    # then the row fails at once (a 403 will not change on retry) and a coordinator enters it by hand
    wb = WriteBack.objects.get(case=case)
    assert wb.state == WriteBack.State.FAILED and wb.attempts == 1 and "cannot be written" in wb.error
    assert Task.objects.filter(case=case, title="Enter the PA status in the EHR by hand").exists()
