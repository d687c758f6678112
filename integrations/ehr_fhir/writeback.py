"""Write a payer decision back to the chart, exactly once.

The WriteBack row is written in the transaction that moved the case
(receivers.py); this module sends it. The POST is a conditional create on
the row's business identifier (`If-None-Exist: identifier=system|value`), so
a job that runs twice, or a retry after a lost response, finds the resource
it already wrote instead of writing another.
"""

from __future__ import annotations

import base64
from datetime import timedelta

from django.db import transaction
from django.utils import timezone
from fhirclient.models.claimresponse import ClaimResponse
from fhirclient.models.documentreference import DocumentReference
from fhirclient.models.fhirabstractbase import FHIRValidationError
from fhirclient.models.questionnaireresponse import QuestionnaireResponse
from fhirclient.models.task import Task as FhirTask

from cases.models import CaseEvent, PriorAuthCase, Role, Task
from cases.services import case_event_add, task_create
from integrations.base import IntegrationError
from integrations.ehr_fhir.client import FhirSession
from integrations.ehr_fhir.models import EhrConnection, WriteBack
from integrations.outbox import FAILED, Outbox, RetryPolicy, outbox_claim, outbox_retry_or_fail

MAX_ATTEMPTS = 8
OUTCOME = {"approved": "approved", "partially_approved": "partially approved", "denied": "denied"}
# No "sending" state: the row lock is the claim, held over the conditional POST (harmless to repeat).
WRITE_BACKS = Outbox(
    model=WriteBack,
    due_states=(WriteBack.State.PENDING, WriteBack.State.RETRY),
    retry_state=WriteBack.State.RETRY,
    failed_state=WriteBack.State.FAILED,
    # 1, 2, 4 … minutes, capped at 6 hours.
    policy=RetryPolicy(max_attempts=MAX_ATTEMPTS, base=timedelta(minutes=1), cap=timedelta(hours=6)),
)


def _decision_text(case: PriorAuthCase, wb: WriteBack) -> str:
    parts = [f"Prior authorization {OUTCOME.get(wb.decision, wb.decision)} by {case.payer or 'the payer'}"]
    if case.authorization_number:
        parts.append(f"authorization {case.authorization_number}")
    if case.auth_effective_start:
        parts.append(f"valid {case.auth_effective_start} to {case.auth_effective_end or 'open'}")
    if case.units_approved is not None:
        parts.append(f"{case.units_approved:g} units")
    if wb.decision == "denied" and case.denial_reason_code:
        parts.append(f"reason {case.denial_reason_code}")
    return ", ".join(parts) + "."


def build_resource(case: PriorAuthCase, wb: WriteBack) -> dict:
    """The FHIR R4 resource for the connection's write capability, checked by fhirclient's models."""
    identifier = {"system": wb.identifier_system, "value": wb.identifier_value}
    patient = {"reference": f"Patient/{case.patient.ehr_id}"}
    order_ref = {"reference": case.order.ehr_id} if case.order.ehr_id else None
    text = _decision_text(case, wb)
    now = timezone.now().isoformat()
    period = {}
    if case.auth_effective_start:
        period["start"] = case.auth_effective_start.isoformat()
    if case.auth_effective_end:
        period["end"] = case.auth_effective_end.isoformat()
    if wb.resource_type == "ClaimResponse":
        body = {
            "resourceType": "ClaimResponse",
            "identifier": [identifier],
            "status": "active",
            "type": {
                "coding": [{"system": "http://terminology.hl7.org/CodeSystem/claim-type", "code": "professional"}]
            },
            "use": "preauthorization",
            "patient": patient,
            "created": now,
            "insurer": {"display": str(case.payer or "payer")},
            "outcome": "complete",
            "disposition": text,
        }
        if case.authorization_number:
            body["preAuthRef"] = case.authorization_number
        if period:
            body["preAuthPeriod"] = period
        model = ClaimResponse
    elif wb.resource_type == "Task":
        body = {
            "resourceType": "Task",
            "identifier": [identifier],
            "status": "completed",
            "intent": "order",
            "code": {"text": "Prior authorization decision"},
            "description": text,
            "for": patient,
            "authoredOn": now,
            "businessStatus": {"text": OUTCOME.get(wb.decision, wb.decision)},
        }
        if order_ref:
            body["focus"] = order_ref
        if case.authorization_number:
            body["output"] = [{"type": {"text": "authorization number"}, "valueString": case.authorization_number}]
        model = FhirTask
    elif wb.resource_type == "DocumentReference":
        body = {
            "resourceType": "DocumentReference",
            "identifier": [identifier],
            "status": "current",
            "type": {"text": "Prior authorization decision"},
            "subject": patient,
            "date": now,
            "description": text,
            "content": [
                {
                    "attachment": {
                        "contentType": "text/plain",
                        "data": base64.b64encode(text.encode()).decode(),
                        "title": "Prior authorization decision",
                    }
                }
            ],
        }
        model = DocumentReference
    elif wb.resource_type == "QuestionnaireResponse":
        items = [
            {
                "linkId": "decision",
                "text": "Decision",
                "answer": [{"valueString": OUTCOME.get(wb.decision, wb.decision)}],
            }
        ]
        if case.authorization_number:
            items.append(
                {
                    "linkId": "auth-number",
                    "text": "Authorization number",
                    "answer": [{"valueString": case.authorization_number}],
                }
            )
        if case.auth_effective_start:
            items.append(
                {
                    "linkId": "start",
                    "text": "Effective from",
                    "answer": [{"valueDate": case.auth_effective_start.isoformat()}],
                }
            )
        if case.auth_effective_end:
            items.append(
                {
                    "linkId": "end",
                    "text": "Effective to",
                    "answer": [{"valueDate": case.auth_effective_end.isoformat()}],
                }
            )
        body = {
            "resourceType": "QuestionnaireResponse",
            "identifier": identifier,  # 0..1 on QuestionnaireResponse
            "status": "completed",
            "subject": patient,
            "authored": now,
            "item": items,
        }
        model = QuestionnaireResponse
    else:
        raise IntegrationError(f"Cannot write a {wb.resource_type or 'nothing'}.", permanent=True)
    try:
        return model(body, strict=True).as_json()
    except FHIRValidationError as exc:
        raise IntegrationError(f"The {wb.resource_type} we built is not valid FHIR R4: {exc}", permanent=True) from exc


def writeback_record(*, case: PriorAuthCase, event, to_status: str) -> WriteBack:
    """Outbox row for a decision; called inside the transaction that moved the case."""
    connection = EhrConnection.objects.filter(practice_id=case.practice_id).first()
    key = f"case-{case.pk}-event-{event.pk}"
    wb = WriteBack(case=case, decision=to_status, identifier_value=f"pa-{key}", idempotency_key=key)
    why = ""
    if connection is None:
        why = "the practice has no EHR connection"
    elif not connection.write_resource:
        why = "the EHR connection allows no writes"
    elif not case.patient.ehr_id:
        why = "the patient is not linked to the EHR"
    if why:
        wb.state = WriteBack.State.UNSUPPORTED
        wb.error = why
        wb.save()
        case_event_add(
            case=case, kind=CaseEvent.Kind.WRITE_BACK, message=f"Write-back not supported: {why}", write_back_id=wb.pk
        )
        return wb
    wb.resource_type = connection.write_resource
    wb.save()
    return wb


def writeback_send(*, write_back_id: int) -> WriteBack | None:
    """Send one due write-back. Safe to call twice at once: the row is claimed
    with skip_locked and the POST is conditional."""
    with transaction.atomic():
        wb = outbox_claim(WRITE_BACKS, write_back_id, now=timezone.now())
        if wb is None:
            return None
        case = PriorAuthCase.objects.select_related("patient", "order", "payer", "practice").get(pk=wb.case_id)
        try:
            connection = EhrConnection.objects.get(practice_id=case.practice_id)
            session = FhirSession(connection, purpose="write_back", system_actor="write_back", case=case)
            status, body = session.create_conditional(
                build_resource(case, wb), if_none_exist=f"identifier={wb.identifier_system}|{wb.identifier_value}"
            )
        except (IntegrationError, EhrConnection.DoesNotExist) as exc:
            _failed(wb, case, exc)
            return wb
        wb.state = WriteBack.State.DONE
        wb.ehr_resource_id = body.get("id", "")
        wb.done_at = timezone.now()
        wb.error = ""
        wb.save()
        verb = "written" if status == 201 else "already in the chart"
        case_event_add(
            case=case,
            kind=CaseEvent.Kind.WRITE_BACK,
            message=f"Decision {verb} as {wb.resource_type}/{wb.ehr_resource_id}".rstrip("/"),
            write_back_id=wb.pk,
            http_status=status,
        )
    return wb


def _failed(wb: WriteBack, case: PriorAuthCase, exc: Exception) -> None:
    permanent = getattr(exc, "permanent", True)
    wb.error = str(exc)[:2000]
    if outbox_retry_or_fail(WRITE_BACKS, wb, permanent=permanent, now=timezone.now()) == FAILED:
        wb.save()
        case_event_add(
            case=case,
            kind=CaseEvent.Kind.WRITE_BACK,
            message=f"Write-back failed after {wb.attempts} attempt(s): {wb.error}"[:300],
            write_back_id=wb.pk,
        )
        task_create(
            case=case,
            kind=Task.Kind.RECORD_OUTCOME,
            title="Enter the PA decision in the EHR by hand",
            detail=wb.error,
            role=Role.COORDINATOR,
            dedupe_key=f"writeback-{wb.pk}",
        )
        return
    wb.save()
    case_event_add(
        case=case,
        kind=CaseEvent.Kind.WRITE_BACK,
        message=f"Write-back attempt {wb.attempts} failed, retry at "
        f"{timezone.localtime(wb.next_attempt_at):%H:%M}: {wb.error}"[:300],
        write_back_id=wb.pk,
    )
