"""Orders entered by hand: a fax or phone order that did not come from the EHR."""

from datetime import date

from django.db import transaction

from cases.detection import case_open_for_order
from cases.models import CaseEvent, Coverage, Order, Patient, PriorAuthCase, Task
from cases.services import ActionRefused, case_event_add, tasks_close
from cases.transitions import APPROVED_STATUSES


def order_create_manual(*, practice, actor, data: dict) -> PriorAuthCase:
    """Take in a fax/phone order: patient (new or existing), optional coverage, the order, its case."""
    with transaction.atomic():
        patient = data.get("patient")
        if patient is None:
            patient = Patient.objects.create(
                practice=practice,
                first_name=data["first_name"],
                last_name=data["last_name"],
                birth_date=data["birth_date"],
                mrn=data["mrn"],
            )
        if data.get("payer"):
            Coverage.objects.get_or_create(
                patient=patient,
                payer=data["payer"],
                member_id=data["member_id"],
                defaults={"plan": data.get("plan"), "start": data["requested_date"]},
            )
        order = Order.objects.create(
            practice=practice,
            patient=patient,
            ordering_provider=data["ordering_provider"],
            location=data["ordering_provider"].location,
            kind=data["kind"],
            code_system=data["code_system"],
            code=data["code"].strip().upper(),
            description=data["description"],
            quantity=data["quantity"],
            estimated_cost=data.get("estimated_cost"),
            diagnosis_codes=data["diagnosis_codes"],
            priority=data["priority"],
            requested_date=data["requested_date"],
            scheduled_date=data.get("scheduled_date"),
            scheduled_source=Order.ScheduleSource.MANUAL if data.get("scheduled_date") else "",
            source=Order.Source.MANUAL,
        )
        return case_open_for_order(order=order, actor=actor)


def order_schedule_set(*, order: Order, day: date | None, actor) -> Order:
    """Staff set or correct the service date where the EHR has none; marked as entered by hand.

    A date the EHR schedules is changed in the EHR (every sync reads it again), not here.
    """
    if order.scheduled_source == Order.ScheduleSource.EHR:
        raise ActionRefused("The EHR schedules this service: change the appointment there.")
    with transaction.atomic():
        old = order.scheduled_date
        order.scheduled_date = day
        order.scheduled_source = Order.ScheduleSource.MANUAL if day else Order.ScheduleSource.NONE
        order.schedule_ref = ""
        order.save(update_fields=["scheduled_date", "schedule_ref", "scheduled_source"])
        case = PriorAuthCase.objects.filter(order=order).first()
        if case is not None:
            case_event_add(
                case=case,
                kind=CaseEvent.Kind.SYSTEM,
                actor=actor,
                message=(f"Service date entered by hand: {day:%m/%d/%Y}" if day else "Service date removed by hand")
                + (f" (was {old:%m/%d/%Y})" if old else ""),
                scheduled_date=day.isoformat() if day else None,
            )
            if day and case.status in APPROVED_STATUSES:
                # Booking the approved service is what the front desk's "Schedule the service" task asked for:
                # left open, it stayed in their tasks and the sweep after the date was set.
                tasks_close(case=case, actor=actor, kinds=[Task.Kind.RESCHEDULE])
    return order
