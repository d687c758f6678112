"""Connection profiles (generic SMART backend, eClinicalWorks) and admin's "check connection"."""

import pytest
from django.urls import reverse

from cases.models import Order, PriorAuthCase, Status
from cases.transitions import transition
from integrations.ehr_fhir.intake import sync_practice
from integrations.ehr_fhir.models import EhrConnection, SyncRun, WriteBack
from integrations.ehr_fhir.writeback import writeback_send
from tests import factories as f
from tests.integrations.ehr_fhir.conftest import day, service_request, synthea_practitioner_id

ORDER_TYPES = ["ServiceRequest", "MedicationRequest", "DeviceRequest"]
# How the peer plays eClinicalWorks: no Appointment, Task writes refused, no order search across patients.
ECW = {"noResource": ["Appointment"], "refuseWrite": ["Task"], "patientSearchOnly": ORDER_TYPES, "retryAfter": 0}


@pytest.fixture
def admin_client(client, db):
    client.force_login(f.UserFactory(username="root", is_staff=True, is_superuser=True))
    return client


def _group(ehr, patient_id):
    return ehr.create(
        {
            "resourceType": "Group",
            "type": "person",
            "actual": True,
            "member": [{"entity": {"reference": f"Patient/{patient_id}"}}],
        }
    )


def _smart(connection, ehr, *, bulk_app=False):
    client_id, pem = ehr.keys["RS384"]
    fields = {"auth": "smart_backend", "client_id": client_id, "private_key_pem": pem, "token_url": ehr.token_url}
    if bulk_app:
        bulk_id, bulk_pem = ehr.keys["ES384"]
        fields.update(bulk_client_id=bulk_id, bulk_private_key_pem=bulk_pem, bulk_algorithm="ES384")
    EhrConnection.objects.filter(pk=connection.pk).update(**fields)


def test_choosing_the_ecw_profile_in_admin_sets_its_choices(admin_client, connection):
    # given a generic connection
    url = reverse("admin:ehr_fhir_ehrconnection_change", args=[connection.pk])
    form = admin_client.get(url).context["adminform"].form
    data = {k: ("" if v is None else v) for k, v in form.initial.items()}
    data.update(practice=connection.practice_id, profile="eclinicalworks", has_appointment="on")
    # when an admin picks eClinicalWorks and saves
    response = admin_client.post(url, data)
    # then the connection reads by bulk export, schedules from Encounter, writes a DocumentReference
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else ""
    connection.refresh_from_db()
    assert connection.intake_mode == "bulk" and connection.has_appointment is False
    assert connection.write_resource == "DocumentReference" and connection.bulk_scopes == "system/Group.read"


# Real clock: the peer checks the client assertion's exp against its own.
def test_ecw_profile_end_to_end_against_an_ehr_that_behaves_like_it(
    practice, connection, ehr, medicaid, synthea_provider
):
    # given an EHR behaving like eClinicalWorks, two backend apps (single-patient RS384, bulk ES384), the eCW choices
    ehr.set_profile(**ECW)
    from integrations.ehr_fhir.profiles import profile_apply

    connection.profile = "eclinicalworks"
    profile_apply(connection)
    connection.save()
    _smart(connection, ehr, bulk_app=True)
    payer = medicaid[0]
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
    EhrConnection.objects.filter(pk=connection.pk).update(bulk_group_id=_group(ehr, patient_id)["id"])
    # when intake runs
    run = sync_practice(practice=practice)
    # then the order came through the bulk app's export, with its Encounter date
    assert run.run_state == SyncRun.RunState.SUCCEEDED, run.error
    order = Order.objects.get(ehr_id=f"ServiceRequest/{sr['id']}")
    assert order.scheduled_date == day("2026-03-12")
    scopes = {a["claims"]["iss"]: a["scope"] for a in ehr.assertions()}
    assert scopes["es-client"] == "system/Group.read"
    assert "system/DocumentReference.write" in scopes["rs-client"]
    export = next(r for r in ehr.requests_log() if r["path"].endswith("/$export"))
    assert export["authorized"]
    # when the payer decides
    case = PriorAuthCase.objects.get(order=order)
    PriorAuthCase.objects.filter(pk=case.pk).update(status=Status.SUBMITTED)
    case.refresh_from_db()
    transition(case, Status.DENIED, reason="A3")
    writeback_send(write_back_id=WriteBack.objects.get(case=case).pk)
    # then the chart gets a DocumentReference note (the EHR refuses Task), never a Task
    assert WriteBack.objects.get(case=case).state == WriteBack.State.DONE
    [doc] = ehr.search(f"DocumentReference?identifier=urn:priorauth:pa-case|pa-case-{case.pk}")
    assert doc["subject"] == {"reference": f"Patient/{patient_id}"}
    assert not [r for r in ehr.requests_log() if r["path"].startswith("/Task")]


def test_check_connection_reports_modes_scopes_and_resources(admin_client, q_sync, practice, connection, ehr):
    # given an eClinicalWorks-like EHR, SMART auth and the practice's Group
    ehr.set_profile(**ECW)
    _smart(connection, ehr)
    patient_id = ehr.synthea_ids["Patient"][0]
    EhrConnection.objects.filter(pk=connection.pk).update(
        bulk_group_id=_group(ehr, patient_id)["id"], write_resource="Task", has_appointment=False
    )
    # when an admin runs "check connection"
    response = admin_client.post(
        reverse("admin:ehr_fhir_ehrconnection_changelist"),
        {"action": "check_connection", "_selected_action": [connection.pk]},
    )
    assert response.status_code == 302
    # then the stored report says which intake modes work and why not
    connection.refresh_from_db()
    report = connection.last_check
    assert report["modes"]["all_patients"]["ok"] is False
    assert "search needs a patient" in report["modes"]["all_patients"]["detail"]
    assert report["modes"]["per_patient"]["ok"] and report["modes"]["bulk"]["ok"]
    assert report["schedule"] == {**report["schedule"], "resource": "Encounter", "ok": True}
    # and the scopes the token endpoint granted, and the CapabilityStatement's resources
    assert report["token"]["granted"] == connection.scopes.split()
    assert "Appointment" not in report["capability"]["resources"]
    assert report["capability"]["resources"]["Group"]["operations"] == ["export"]
    assert report["writes"] == {"Task": False}
    # and the connection's admin page shows it
    page = admin_client.get(reverse("admin:ehr_fhir_ehrconnection_change", args=[connection.pk])).content.decode()
    assert "search needs a patient" in page
    # and the probe export was cancelled, not left running
    assert [r["method"] for r in ehr.requests_log() if r["path"].startswith("/bulkstatus/")] == ["DELETE"]
