"""Order intake: pull new and changed orders from the EHR and open their cases.

Each order is processed in its own transaction together with the run's
cursor, so a run that stops part-way (EHR down, bad response) leaves every
order either fully taken in (patient, coverage, order, case) or not touched,
and the next run resumes from the last order taken in. Orders are found by
their EHR id, so reading one twice updates instead of duplicating.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from cases.detection import case_open_for_order
from cases.models import CaseEvent, Coverage, Order, Patient, Practice, Provider
from cases.services import case_event_add
from integrations.base import IntegrationError
from integrations.ehr_fhir import bulk, mapping, schedule
from integrations.ehr_fhir.client import FhirSession
from integrations.ehr_fhir.models import EhrConnection, SyncRun
from payers.models import Payer, Plan

log = logging.getLogger(__name__)

ORDER_TYPES = ("ServiceRequest", "MedicationRequest", "DeviceRequest")
PAGE_SIZE = 50
MAX_ROUNDS = 20
# A run still "running" after this long died without finishing (worker killed).
STALE_RUN = timedelta(minutes=15)


class SyncBusy(Exception):
    pass


def _start_run(practice: Practice) -> SyncRun:
    with transaction.atomic():
        # Lock the connection row so two workers cannot start a run at once.
        EhrConnection.objects.select_for_update().get(practice=practice)
        now = timezone.now()
        running = SyncRun.objects.filter(
            practice=practice, run_state=SyncRun.RunState.RUNNING, started_at__gt=now - STALE_RUN
        )
        if running.exists():
            raise SyncBusy(f"A sync for practice {practice.pk} is already running.")
        previous = SyncRun.objects.filter(practice=practice).exclude(cursor={}).first()
        since = dict(previous.cursor) if previous else {}
        return SyncRun.objects.create(practice=practice, since=since, cursor=dict(since))


def sync_practice(*, practice: Practice, actor=None) -> SyncRun:
    """Run one intake pass for `practice`, the way its connection finds orders
    (`EhrConnection.intake_mode`), then bring the service dates up to date.
    Never raises for EHR problems: the error is recorded on the returned SyncRun."""
    connection = EhrConnection.objects.get(practice=practice)
    run = _start_run(practice)
    session = FhirSession(connection, purpose="order_intake", user=actor, system_actor="ehr_sync")
    try:
        if connection.intake_mode == EhrConnection.IntakeMode.BULK:
            _sync_bulk(session, run, connection)
        else:
            for resource_type in ORDER_TYPES:
                if connection.intake_mode == EhrConnection.IntakeMode.PER_PATIENT:
                    _sync_type_per_patient(session, run, resource_type)
                else:
                    _sync_type(session, run, resource_type)
            schedule.schedules_sync(session=session, practice=practice, connection=connection)
    except IntegrationError as exc:
        run.run_state = SyncRun.RunState.FAILED
        run.error = str(exc)[:2000]
        log.warning("ehr sync %s failed: %s", run.pk, exc)
    except Exception as exc:  # a bug must still leave the run closed and visible
        run.run_state = SyncRun.RunState.FAILED
        run.error = f"Internal error: {exc.__class__.__name__}"
        log.exception("ehr sync %s crashed", run.pk)
    else:
        run.run_state = SyncRun.RunState.SUCCEEDED
    run.finished_at = timezone.now()
    run.save(update_fields=["run_state", "error", "finished_at", "cursor"])
    return run


def _sync_type(session: FhirSession, run: SyncRun, resource_type: str) -> None:
    params = {"_sort": "_lastUpdated", "_count": PAGE_SIZE}
    for _ in range(MAX_ROUNDS):
        cursor = run.cursor.get(resource_type)
        if cursor:
            # `ge`, not `gt`: several orders can share one lastUpdated instant and a
            # run may have stopped between them. Re-reading the boundary order is
            # harmless because it is matched by its EHR id.
            params["_lastUpdated"] = f"ge{cursor}"
        last_page = []
        for page in session.search_pages(resource_type, params):
            for resource in page:
                _take_order(session, run, resource)
            last_page = page
        # Some servers (Medplum's in-memory engine among them) send no `next`
        # link: a full last page means there may be more after the cursor.
        if len(last_page) < PAGE_SIZE or run.cursor.get(resource_type) == cursor:
            return


def patient_list(session: FhirSession, connection: EhrConnection) -> list[str]:
    """The practice's active patients: the members of its Group in the EHR (if
    one is configured) and every patient already linked to the EHR here."""
    ids = []
    if connection.bulk_group_id:
        group = session.read("Group", connection.bulk_group_id)
        for member in group.get("member") or []:
            if member.get("inactive"):
                continue
            pid = mapping.reference_id(member.get("entity"), "Patient")
            if pid:
                ids.append(pid)
    known = Patient.objects.filter(practice_id=connection.practice_id).exclude(ehr_id="")
    ids.extend(known.order_by("pk").values_list("ehr_id", flat=True))
    return list(dict.fromkeys(ids))


def _sync_type_per_patient(session: FhirSession, run: SyncRun, resource_type: str) -> None:
    """One search per patient (`?patient=Patient/x`), for EHRs that refuse a
    search across all patients. The cursor moves only when every patient has
    been read, so a run that stops part-way misses nobody's orders."""
    since = run.since.get(resource_type)
    newest = since or ""
    for patient_id in patient_list(session, session.connection):
        params = {"patient": f"Patient/{patient_id}", "_sort": "_lastUpdated", "_count": PAGE_SIZE}
        if since:
            params["_lastUpdated"] = f"ge{since}"
        for page in session.search_pages(resource_type, params, patient_ehr_id=patient_id):
            for resource in page:
                _take_order(session, run, resource, advance_cursor=False)
                newest = max(newest, (resource.get("meta") or {}).get("lastUpdated") or "")
    if newest:
        run.cursor = {**run.cursor, resource_type: newest}
        run.save(update_fields=["cursor"])


BULK_TYPES = ["Patient", "Coverage", *ORDER_TYPES]


def _sync_bulk(session: FhirSession, run: SyncRun, connection: EhrConnection) -> None:
    """Group-level bulk export (the eClinicalWorks route): kick off (or resume a
    running export), poll, read the NDJSON, take each order in from it."""
    if not connection.bulk_group_id:
        raise IntegrationError("Bulk intake needs the EHR Group id of the practice's patients.", permanent=True)
    bulk_session = FhirSession(
        connection.bulk_credentials(), purpose="order_intake", user=session.user, system_actor="ehr_sync"
    )
    status_url = run.since.get("bulk_pending")
    if not status_url:
        types = [*BULK_TYPES, schedule.schedule_type(connection)]
        status_url = bulk.kick_off(
            bulk_session, group_id=connection.bulk_group_id, types=types, since=run.since.get("bulk_since", "")
        )
        run.cursor = {**run.cursor, "bulk_pending": status_url}
        run.save(update_fields=["cursor"])
    try:
        manifest = bulk.poll(bulk_session, status_url, wait_seconds=connection.bulk_wait_seconds)
    except bulk.ExportNotReady as waiting:
        run.error = f"Bulk export still running ({waiting.progress or 'no progress reported'}); the next sync reads it."
        return
    except IntegrationError as exc:
        if exc.permanent:  # the export failed and is gone: the next sync starts a new one
            run.cursor = {k: v for k, v in run.cursor.items() if k != "bulk_pending"}
        raise  # a 429 / 5xx on the status URL: the next sync polls the same export again
    found = bulk.download(bulk_session, manifest)
    if manifest.get("error"):
        # The IG lists OperationOutcome files for resources the server could not export.
        _skip(
            run, {"resourceType": "Bulk", "id": "export"}, f"the export reported {len(manifest['error'])} error file(s)"
        )
    exported = ExportedView(session, found)
    orders = sorted(
        (r for t in ORDER_TYPES for r in found.get(t, [])), key=lambda r: (r.get("meta") or {}).get("lastUpdated", "")
    )
    for resource in orders:
        _take_order(exported, run, resource, advance_cursor=False)
    schedule.schedules_from_resources(
        practice=run.practice,
        connection=connection,
        resources=found.get(schedule.schedule_type(connection), []),
        full=False,
    )
    cursor = {k: v for k, v in run.cursor.items() if k != "bulk_pending"}
    run.cursor = {**cursor, "bulk_since": manifest["transactionTime"]}
    run.save(update_fields=["cursor"])
    bulk.finish(bulk_session, status_url)


class ExportedView:
    """The live session, but Patient reads and Coverage searches are answered
    from the export's files first (the single-patient app may not be allowed
    to read what the bulk app just exported, and reading it twice is waste)."""

    def __init__(self, session: FhirSession, found: dict[str, list[dict]]):
        self._session = session
        self.connection = session.connection
        self._by_id = {(r["resourceType"], r.get("id")): r for rs in found.values() for r in rs}
        self._coverage: dict[str, list[dict]] = {}
        for cov in found.get("Coverage", []):
            pid = mapping.reference_id(cov.get("beneficiary"), "Patient")
            self._coverage.setdefault(pid, []).append(cov)
        self._exported_types = set(found)

    def read(self, resource_type: str, resource_id: str, **kwargs) -> dict:
        cached = self._by_id.get((resource_type, resource_id))
        return cached if cached is not None else self._session.read(resource_type, resource_id, **kwargs)

    def search(self, resource_type: str, params: dict, **kwargs) -> list[dict]:
        if resource_type == "Coverage" and "Coverage" in self._exported_types:
            pid = mapping.reference_id({"reference": params.get("patient", "")}, "Patient")
            return self._coverage.get(pid, [])
        return self._session.search(resource_type, params, **kwargs)


def _skip(run: SyncRun, resource: dict, reason: str) -> None:
    run.skipped += 1
    run.skipped_reasons = [*run.skipped_reasons, {"resource": _ref(resource), "reason": reason}][-100:]


def _ref(resource: dict) -> str:
    return f"{resource.get('resourceType')}/{resource.get('id')}"


def _take_order(session: FhirSession, run: SyncRun, resource: dict, *, advance_cursor: bool = True) -> None:
    if not resource.get("id"):
        raise IntegrationError(f"The EHR sent a {resource.get('resourceType')} without an id.", permanent=True)
    with transaction.atomic():
        try:
            outcome = _upsert_order(session, run.practice, resource)
        except mapping.MappingError as exc:
            _skip(run, resource, str(exc))
        else:
            if outcome in ("created", "updated"):
                setattr(run, outcome, getattr(run, outcome) + 1)
            elif outcome != "unchanged":
                _skip(run, resource, outcome)
        last = (resource.get("meta") or {}).get("lastUpdated")
        if advance_cursor and last and (last >= run.cursor.get(resource["resourceType"], "")):
            run.cursor = {**run.cursor, resource["resourceType"]: last}
        run.save(update_fields=["cursor", "created", "updated", "skipped", "skipped_reasons"])


def _upsert_order(session: FhirSession, practice: Practice, resource: dict) -> str:
    ehr_id = _ref(resource)
    existing = Order.objects.filter(practice=practice, ehr_id=ehr_id).select_related("patient").first()
    status, intent = resource.get("status"), resource.get("intent")
    if status not in mapping.ACTIVE_ORDER_STATUSES or intent not in mapping.ORDER_INTENTS:
        if existing is not None and hasattr(existing, "case"):
            case_event_add(
                case=existing.case,
                kind=CaseEvent.Kind.SYSTEM,
                message=f"The EHR now lists this order as '{status}'",
                ehr_status=status,
            )
        return f"order status '{status}' / intent '{intent}' is not an active order"
    fields = mapping.order_fields(resource)
    patient_id = mapping.reference_id(resource.get("subject"), "Patient")
    if not patient_id:
        raise mapping.MappingError("the order has no Patient subject")
    provider = _provider_for(session, practice, resource)
    patient = _patient_for(session, practice, patient_id)
    coverage_sync(session=session, patient=patient)

    if existing is None:
        order = Order.objects.create(
            practice=practice,
            patient=patient,
            ordering_provider=provider,
            location=provider.location,
            site_of_service=provider.location.place_of_service if provider.location_id else "",
            ehr_id=ehr_id,
            source=Order.Source.EHR,
            **fields,
        )
        case_open_for_order(order=order)
        return "created"
    changed = [name for name, value in fields.items() if getattr(existing, name) != value]
    if not changed:
        return "unchanged"
    for name in changed:
        setattr(existing, name, fields[name])
    existing.save(update_fields=changed)
    if hasattr(existing, "case"):
        case_event_add(
            case=existing.case,
            kind=CaseEvent.Kind.SYSTEM,
            message="Order updated in the EHR: " + ", ".join(changed),
            fields=changed,
        )
    else:
        case_open_for_order(order=existing)
    return "updated"


def _provider_for(session: FhirSession, practice: Practice, resource: dict) -> Provider:
    practitioner_id = mapping.reference_id(resource.get("requester"), "Practitioner")
    if not practitioner_id:
        raise mapping.MappingError("the order has no Practitioner requester")
    provider = Provider.objects.filter(practice=practice, ehr_id=practitioner_id).select_related("location").first()
    if provider:
        return provider
    practitioner = session.read("Practitioner", practitioner_id)
    npis = [i.get("value") for i in practitioner.get("identifier") or [] if i.get("system") == mapping.NPI]
    provider = Provider.objects.filter(practice=practice, npi__in=[n for n in npis if n]).first()
    if provider is None:
        raise mapping.MappingError("the ordering practitioner's NPI matches no provider of the practice")
    provider.ehr_id = practitioner_id
    provider.save(update_fields=["ehr_id"])
    return provider


def _patient_for(session: FhirSession, practice: Practice, patient_id: str) -> Patient:
    patient = Patient.objects.filter(practice=practice, ehr_id=patient_id).first()
    if patient:
        return patient  # minimum necessary: demographics are read once
    fields = mapping.patient_fields(session.read("Patient", patient_id))
    # A patient entered by hand earlier (fax order) is linked by MRN, not duplicated.
    patient = Patient.objects.filter(practice=practice, mrn=fields["mrn"]).first()
    if patient:
        # Member data from the chart replaces what was typed by hand.
        patient.ehr_id = patient_id
        for name in ("gender", "address", "identifiers"):
            setattr(patient, name, fields[name])
        patient.save(update_fields=["ehr_id", "gender", "address", "identifiers"])
        return patient
    return Patient.objects.create(practice=practice, ehr_id=patient_id, **fields)


def _payer_for(session: FhirSession, fields: dict) -> Payer | None:
    name = fields["payor_display"]
    if not name and fields["payor_org_id"]:
        org = session.read("Organization", fields["payor_org_id"])
        name = org.get("name", "")
        ids = [i.get("value") for i in org.get("identifier") or [] if i.get("value")]
        if ids:
            payer = Payer.objects.filter(payer_id__in=ids).first()
            if payer:
                return payer
    return Payer.objects.filter(name__iexact=name.strip()).first() if name else None


def coverage_sync(*, session: FhirSession, patient: Patient) -> list[Coverage]:
    """Mirror the patient's Coverage resources; only active ones are kept.

    A coverage whose payer is not configured here is left out, so the case
    shows a coverage gap for a coordinator instead of a guessed payer.
    """
    kept = []
    for resource in session.search("Coverage", {"patient": f"Patient/{patient.ehr_id}"}, patient=patient):
        fields = mapping.coverage_fields(resource)
        existing = Coverage.objects.filter(patient=patient, ehr_id=resource["id"]).first()
        payer = _payer_for(session, fields) if fields["status"] == "active" and fields["start"] else None
        if payer is None:
            if existing:
                existing.delete()  # no longer active (or payer unknown): never offer it as coverage
            continue
        plan = (
            Plan.objects.filter(payer=payer, name__iexact=fields["plan_name"]).first() if fields["plan_name"] else None
        )
        values = {
            "payer": payer,
            "plan": plan,
            "member_id": fields["member_id"],
            "group_number": fields["group_number"],
            "relationship": fields["relationship"],
            "subscriber_name": fields["subscriber_name"],
            "start": fields["start"],
            "end": fields["end"],
        }
        if existing:
            for name, value in values.items():
                setattr(existing, name, value)
            existing.save()
            kept.append(existing)
        else:
            kept.append(Coverage.objects.create(patient=patient, ehr_id=resource["id"], **values))
    return kept
