"""The service's scheduled date, read from the EHR's schedule.

Where the connection exposes Appointment (`EhrConnection.has_appointment`),
the date is an Appointment's `start`; otherwise (eClinicalWorks and others
without Appointment) a planned or arrived Encounter's `period.start`. An
appointment or encounter belongs to an order when its `basedOn` points at the
order's ServiceRequest (FHIR R4 Appointment.basedOn / Encounter.basedOn);
failing that, when it is the same patient's, names the order's code in its
service / type codings and starts inside a window around the requested date.

Every sync reads the schedule afresh for every order still in play, so a
rescheduled appointment moves the case's date (which re-sorts the queue and
feeds the sweep's schedule-at-risk bucket) and a cancelled one clears it. A
date staff entered by hand is kept until the EHR has one of its own.
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from datetime import date, timedelta

from django.db import transaction
from django.utils import timezone

from cases.models import CaseEvent, Order, Status, Task
from cases.services import case_event_add
from integrations.ehr_fhir import mapping

# R4 Appointment.status values that hold a date for the service (fulfilled:
# it took place). proposed / waitlist hold no commitment; cancelled, noshow and
# entered-in-error hold none at all.
APPOINTMENT_LIVE = {"pending", "booked", "arrived", "checked-in", "fulfilled"}
# R4 Encounter.status values of a visit that is planned, happening or happened.
ENCOUNTER_LIVE = {"planned", "arrived", "triaged", "in-progress", "onleave", "finished"}
WINDOW_BEFORE = timedelta(days=30)
WINDOW_AFTER = timedelta(days=365)
# Orders whose date no longer matters here.
NOT_WATCHED = (Status.CLOSED, Status.CANCELLED, Status.EXPIRED, Status.NOT_REQUIRED)


@dataclass(frozen=True)
class Slot:
    day: date
    ref: str
    linked: bool  # basedOn names the order


def schedule_type(connection) -> str:
    return "Appointment" if connection.has_appointment else "Encounter"


def watched_orders(practice):
    """EHR orders whose case is still in play (open, or approved and waiting for the service)."""
    return (
        Order.objects.filter(practice=practice, source=Order.Source.EHR, case__isnull=False)
        .exclude(case__status__in=NOT_WATCHED)
        .exclude(patient__ehr_id="")
        .select_related("patient", "case")
    )


def _local_day(value: str | None, tz) -> date | None:
    instant = mapping.parse_instant(value)
    if instant is None or instant.tzinfo is None:
        return mapping.parse_date(value)
    return instant.astimezone(tz).date()


def _codes(resource: dict) -> set[str]:
    concepts = []
    for name in ("serviceType", "type", "reasonCode", "specialty"):
        value = resource.get(name)
        concepts.extend(value if isinstance(value, list) else [value] if value else [])
    if resource.get("appointmentType"):
        concepts.append(resource["appointmentType"])
    return {(c.get("code") or "").strip().upper() for concept in concepts for c in mapping.codings(concept)}


def _patient_of(resource: dict) -> str:
    if resource.get("resourceType") == "Encounter":
        return mapping.reference_id(resource.get("subject"), "Patient")
    for participant in resource.get("participant") or []:
        found = mapping.reference_id(participant.get("actor"), "Patient")
        if found:
            return found
    return ""


def slot_of(resource: dict, order: Order, tz) -> Slot | None:
    """This appointment/encounter as a date for `order`, or None if it is not the order's (or has no date)."""
    rtype = resource.get("resourceType")
    if rtype == "Appointment":
        if resource.get("status") not in APPOINTMENT_LIVE:
            return None
        day = _local_day(resource.get("start"), tz)
    elif rtype == "Encounter":
        if resource.get("status") not in ENCOUNTER_LIVE:
            return None
        day = _local_day((resource.get("period") or {}).get("start"), tz)
    else:
        return None
    if day is None or _patient_of(resource) != order.patient.ehr_id:
        return None
    ref = f"{rtype}/{resource.get('id')}"
    order_type, _, order_id = order.ehr_id.partition("/")
    linked = any(mapping.reference_id(b, order_type) == order_id for b in resource.get("basedOn") or [])
    if linked:
        return Slot(day, ref, True)
    anchor = order.requested_date or timezone.localdate(order.created_at, tz)
    if order.code.upper() in _codes(resource) and anchor - WINDOW_BEFORE <= day <= anchor + WINDOW_AFTER:
        return Slot(day, ref, False)
    return None


def slot_pick(order: Order, resources: list[dict], tz, today: date) -> Slot | None:
    """The order's slot among `resources`: linked ones first, then the next one to come, else the latest past."""
    slots = [s for s in (slot_of(r, order, tz) for r in resources) if s]
    linked = [s for s in slots if s.linked]
    slots = sorted(linked or slots, key=lambda s: (s.day, s.ref))
    if not slots:
        return None
    upcoming = [s for s in slots if s.day >= today]
    return upcoming[0] if upcoming else slots[-1]


def schedule_apply(*, order: Order, slot: Slot | None, seen_refs: set[str] | None = None) -> str:
    """Write the slot's date on the order (with a timeline line); "" if nothing changed.

    `slot` None means the EHR shows no date for the order. When `seen_refs` is
    given (a delta, as a bulk export's `_since` gives), an EHR date is cleared
    only if the appointment it came from is among them (changed to cancelled);
    a date entered by hand is never cleared by the EHR.
    """
    old, old_ref = order.scheduled_date, order.schedule_ref
    if slot is None:
        if order.scheduled_source != Order.ScheduleSource.EHR:
            return ""
        if seen_refs is not None and old_ref not in seen_refs:
            return ""
        new_day, new_ref, source = None, "", Order.ScheduleSource.NONE
    else:
        new_day, new_ref, source = slot.day, slot.ref, Order.ScheduleSource.EHR
    if (old, old_ref, order.scheduled_source) == (new_day, new_ref, source):
        return ""
    with transaction.atomic():
        order.scheduled_date, order.schedule_ref, order.scheduled_source = new_day, new_ref, source
        # Order.save refreshes the case's queue key (schedule risk) for scheduled_date.
        order.save(update_fields=["scheduled_date", "schedule_ref", "scheduled_source"])
        if new_day is None:
            message, change = f"The EHR no longer schedules the service ({old_ref} cancelled)", "cancelled"
        elif old is None:
            message, change = f"Scheduled in the EHR for {new_day:%m/%d/%Y} ({new_ref})", "scheduled"
        elif old != new_day:
            message, change = f"Rescheduled in the EHR from {old:%m/%d/%Y} to {new_day:%m/%d/%Y} ({new_ref})", "moved"
        else:
            message, change = f"Scheduled date confirmed by the EHR ({new_ref})", "confirmed"
        case = order.case
        case_event_add(
            case=case,
            kind=CaseEvent.Kind.SYSTEM,
            message=message,
            schedule_ref=new_ref or old_ref,
            scheduled_date=new_day.isoformat() if new_day else None,
            previous_date=old.isoformat() if old else None,
        )
        if old and old != new_day:
            # A front-desk "reschedule the <old date> appointment" task is moot now.
            Task.objects.filter(
                case=case, kind=Task.Kind.RESCHEDULE, done_at__isnull=True, dedupe_key=f"reschedule:{old.isoformat()}"
            ).update(done_at=timezone.now())
    return change


def schedules_from_resources(*, practice, connection, resources: list[dict], full: bool, orders=None) -> int:
    """Apply `resources` (Appointments or Encounters of any patients) to the watched orders.

    `full`: the resources are everything the EHR has for those patients (a
    search); otherwise a delta (a bulk export since the last one). Returns how
    many orders' dates changed.
    """
    tz = zoneinfo.ZoneInfo(practice.time_zone)
    today = timezone.localtime(timezone.now(), tz).date()
    by_patient: dict[str, list[dict]] = {}
    for resource in resources:
        by_patient.setdefault(_patient_of(resource), []).append(resource)
    refs = {f"{r.get('resourceType')}/{r.get('id')}" for r in resources}
    changed = 0
    for order in orders if orders is not None else watched_orders(practice):
        mine = by_patient.get(order.patient.ehr_id, [])
        if not full and not mine:
            continue
        slot = slot_pick(order, mine, tz, today)
        changed += bool(schedule_apply(order=order, slot=slot, seen_refs=None if full else refs))
    if changed:
        _rewatch(practice)
    return changed


def schedules_sync(*, session, practice, connection) -> int:
    """Read each watched order's patient's schedule (one search per patient) and apply it."""
    rtype = schedule_type(connection)
    orders = list(watched_orders(practice))
    patients = {o.patient.ehr_id: o.patient for o in orders}
    tz = zoneinfo.ZoneInfo(practice.time_zone)
    earliest = min(
        [(o.requested_date or timezone.localdate(o.created_at, tz)) - WINDOW_BEFORE for o in orders],
        default=None,
    )
    resources = []
    for ehr_id, patient in patients.items():
        params = {"patient": f"Patient/{ehr_id}", "_count": 100}
        if earliest:
            params["date"] = f"ge{earliest.isoformat()}"
        resources.extend(session.search(rtype, params, patient=patient))
    return schedules_from_resources(
        practice=practice, connection=connection, resources=resources, full=True, orders=orders
    )


def _rewatch(practice) -> None:
    """A moved date can take an approval out of (or into) its authorized period: watch again now."""
    from cases.expiry import authorizations_watch

    authorizations_watch(practice=practice)
