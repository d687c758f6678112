"""Service dates read from the EHR's schedule (Appointment or Encounter) on every sync."""

import time_machine

from cases.models import CaseEvent, Order, PriorAuthCase, Status, Task
from cases.sweep.models import Bucket, SweepItem
from cases.sweep.services import sweep_item_reschedule_task, sweep_run
from integrations.ehr_fhir.intake import sync_practice
from integrations.ehr_fhir.models import EhrConnection, SyncRun
from tests import factories as f
from tests.integrations.ehr_fhir.conftest import day, service_request, synthea_practitioner_id

NOW = "2026-02-20 15:00Z"


def _appointment(ehr, *, patient_id, start, order=None, status="booked", code=None):
    body = {
        "resourceType": "Appointment",
        "status": status,
        "start": start,
        "end": start.replace(":00:00", ":30:00"),
        "participant": [{"actor": {"reference": f"Patient/{patient_id}"}, "status": "accepted"}],
    }
    if order:
        body["basedOn"] = [{"reference": f"ServiceRequest/{order['id']}"}]
    if code:
        body["serviceType"] = [{"coding": [{"system": "http://www.ama-assn.org/go/cpt", "code": code}]}]
    return ehr.create(body)


def _order_in_ehr(ehr, payer):
    f.PayerRuleFactory(payer=payer, code="70551")
    patient_id = ehr.synthea_ids["Patient"][0]
    return patient_id, service_request(ehr, patient_id=patient_id, practitioner_id=synthea_practitioner_id(ehr))


def _sync(practice):
    run = sync_practice(practice=practice)
    assert run.run_state == SyncRun.RunState.SUCCEEDED, run.error
    return run


@time_machine.travel(NOW, tick=False)
def test_appointment_based_on_the_order_sets_and_moves_the_date(practice, connection, ehr, medicaid, synthea_provider):
    # given an order in the EHR and an appointment booked for it (basedOn the ServiceRequest)
    patient_id, sr = _order_in_ehr(ehr, medicaid[0])
    appt = _appointment(ehr, patient_id=patient_id, start="2026-03-05T14:00:00Z", order=sr)
    # when intake runs
    _sync(practice)
    # then the case's service date is the appointment's, marked as from the EHR
    order = Order.objects.get(ehr_id=f"ServiceRequest/{sr['id']}")
    assert order.scheduled_date == day("2026-03-05")
    assert (order.scheduled_source, order.schedule_ref) == ("ehr", f"Appointment/{appt['id']}")

    # when the front desk reschedules it in the EHR and the next sync runs
    ehr.update({**appt, "start": "2026-04-09T15:00:00Z", "end": "2026-04-09T15:30:00Z"})
    _sync(practice)
    # then the date moves and the timeline says so
    order.refresh_from_db()
    assert order.scheduled_date == day("2026-04-09")
    assert CaseEvent.objects.filter(
        case=order.case, message__startswith="Rescheduled in the EHR from 03/05/2026 to 04/09/2026"
    ).exists()

    # when the appointment is cancelled in the EHR
    ehr.update({**appt, "status": "cancelled", "start": "2026-04-09T15:00:00Z", "end": "2026-04-09T15:30:00Z"})
    _sync(practice)
    # then the order is no longer scheduled
    order.refresh_from_db()
    assert (order.scheduled_date, order.scheduled_source) == (None, "")


@time_machine.travel(NOW, tick=False)
def test_appointment_without_based_on_is_matched_by_patient_service_and_window(
    practice, connection, ehr, medicaid, synthea_provider
):
    # given appointments of the same patient: one for another service, one far outside the window, one for the MRI
    patient_id, sr = _order_in_ehr(ehr, medicaid[0])
    _appointment(ehr, patient_id=patient_id, start="2026-03-03T14:00:00Z", code="99213")
    _appointment(ehr, patient_id=patient_id, start="2028-03-03T14:00:00Z", code="70551")
    mri = _appointment(ehr, patient_id=patient_id, start="2026-03-10T14:00:00Z", code="70551")
    # when intake runs
    _sync(practice)
    # then the MRI appointment inside the window is the order's date
    order = Order.objects.get(ehr_id=f"ServiceRequest/{sr['id']}")
    assert (order.scheduled_date, order.schedule_ref) == (day("2026-03-10"), f"Appointment/{mri['id']}")


@time_machine.travel(NOW, tick=False)
def test_encounter_based_scheduling_when_the_ehr_has_no_appointment(
    practice, connection, ehr, medicaid, synthea_provider
):
    # given an EHR without Appointment (the connection says so) and a planned Encounter for the order
    EhrConnection.objects.filter(pk=connection.pk).update(has_appointment=False)
    ehr.set_profile(noResource=["Appointment"])
    patient_id, sr = _order_in_ehr(ehr, medicaid[0])
    enc = ehr.create(
        {
            "resourceType": "Encounter",
            "status": "planned",
            "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
            "subject": {"reference": f"Patient/{patient_id}"},
            "basedOn": [{"reference": f"ServiceRequest/{sr['id']}"}],
            "period": {"start": "2026-03-12T13:00:00Z"},
        }
    )
    # when intake runs
    _sync(practice)
    # then the date comes from the Encounter, and Appointment was never asked for
    order = Order.objects.get(ehr_id=f"ServiceRequest/{sr['id']}")
    assert (order.scheduled_date, order.schedule_ref) == (day("2026-03-12"), f"Encounter/{enc['id']}")
    assert not [r for r in ehr.requests_log() if r["path"].startswith("/Appointment")]
    # and a reschedule of the encounter moves it
    ehr.update({**enc, "period": {"start": "2026-03-19T13:00:00Z"}})
    _sync(practice)
    order.refresh_from_db()
    assert order.scheduled_date == day("2026-03-19")


@time_machine.travel(NOW, tick=False)
def test_a_date_entered_by_hand_stays_until_the_ehr_has_one(practice, connection, ehr, medicaid, synthea_provider):
    # given an EHR order with no appointment, and staff entered a date by hand
    patient_id, sr = _order_in_ehr(ehr, medicaid[0])
    _sync(practice)
    order = Order.objects.get(ehr_id=f"ServiceRequest/{sr['id']}")
    from cases.orders import order_schedule_set

    order_schedule_set(order=order, day=day("2026-03-20"), actor=None)
    # when a sync finds no appointment
    _sync(practice)
    order.refresh_from_db()
    # then the hand-entered date is kept and marked as such
    assert (order.scheduled_date, order.scheduled_source) == (day("2026-03-20"), "manual")
    # when the EHR books it, the EHR's date replaces it
    _appointment(ehr, patient_id=patient_id, start="2026-03-24T14:00:00Z", order=sr)
    _sync(practice)
    order.refresh_from_db()
    assert (order.scheduled_date, order.scheduled_source) == (day("2026-03-24"), "ehr")


@time_machine.travel(NOW, tick=False)
def test_sweep_schedule_at_risk_and_front_desk_view_come_from_ehr_appointments(
    practice, connection, ehr, medicaid, synthea_provider, client, front_desk
):
    # given an order whose appointment (booked in the EHR) is 3 days away, long before the payer's 7-day window
    patient_id, sr = _order_in_ehr(ehr, medicaid[0])
    _appointment(ehr, patient_id=patient_id, start="2026-02-23T15:00:00Z", order=sr)
    # when intake runs and the morning sweep runs (nothing here sets scheduled_date)
    _sync(practice)
    case = PriorAuthCase.objects.get(order__ehr_id=f"ServiceRequest/{sr['id']}")
    assert case.status == Status.GATHERING
    sweep = sweep_run(practice=practice)
    # then the case is in the schedule-at-risk bucket, due on the appointment's day
    item = SweepItem.objects.get(sweep=sweep, case=case, bucket=Bucket.SCHEDULE_AT_RISK)
    assert item.due_on == day("2026-02-23")
    # and the front desk sees it on their sweep page, with the appointment date and no diagnosis
    client.force_login(front_desk)
    page = client.get("/sweep/", {"bucket": Bucket.SCHEDULE_AT_RISK})
    assert page.status_code == 200
    html = page.content.decode()
    assert "Mon Feb 23" in html and f"/cases/{case.pk}/" in html
    assert "G43.909" not in html
    # and they ask for a reschedule of that appointment
    assert sweep_item_reschedule_task(item=item, actor=front_desk) is not None

    # when the EHR moves the appointment after the expected decision, the next sync and sweep take it off
    appt = ehr.search(f"Appointment?patient=Patient/{patient_id}")[0]
    ehr.update({**appt, "start": "2026-04-20T15:00:00Z", "end": "2026-04-20T15:30:00Z"})
    _sync(practice)
    later = sweep_run(practice=practice)
    assert not SweepItem.objects.filter(sweep=later, case=case, bucket=Bucket.SCHEDULE_AT_RISK).exists()
    # and the front desk's "reschedule the Feb 23 appointment" task is closed: that date is gone
    assert Task.objects.get(case=case, kind=Task.Kind.RESCHEDULE).done_at is not None


@time_machine.travel(NOW, tick=False)
def test_a_reschedule_past_the_authorized_period_is_caught_by_the_expiry_watch_at_once(
    practice, connection, ehr, medicaid, synthea_provider
):
    # given an approved case (authorized to Mar 1) whose appointment in the EHR is inside the period
    patient_id, sr = _order_in_ehr(ehr, medicaid[0])
    appt = _appointment(ehr, patient_id=patient_id, start="2026-02-25T15:00:00Z", order=sr)
    _sync(practice)
    case = PriorAuthCase.objects.get(order__ehr_id=f"ServiceRequest/{sr['id']}")
    PriorAuthCase.objects.filter(pk=case.pk).update(
        status=Status.APPROVED, auth_effective_start=day("2026-02-01"), auth_effective_end=day("2026-03-01")
    )
    _sync(practice)
    assert not Task.objects.filter(case=case, kind=Task.Kind.RENEW_AUTH).exists()
    # when the EHR moves the appointment after the authorization ends, and the next sync runs
    ehr.update({**appt, "start": "2026-03-10T15:00:00Z", "end": "2026-03-10T15:30:00Z"})
    _sync(practice)
    # then the coordinator is warned right away (not at the next hourly watch)
    task = Task.objects.get(case=case, kind=Task.Kind.RENEW_AUTH)
    assert task.title.startswith("Authorization ends 03/01/2026") and "scheduled 03/10/2026" in task.detail
