"""The prior authorization's status in the chart, and alerts to clinicians, written exactly once.

One FHIR resource per case carries where the request stands: created when
the case is first submitted (or decided), then updated in place for each
later status — pended (with the payer's request), approved, partially
approved, denied, appealed, expired, cancelled — so the chart shows one
current entry, never a pile. The connection declares which shape the EHR
takes (`EhrConnection.write_resource`: Task, ClaimResponse,
DocumentReference or QuestionnaireResponse).

Each status change writes a WriteBack row in the transaction that moved the
case (receivers.py); this module sends it. The first send is a conditional
create on the case's business identifier (`If-None-Exist:
identifier=system|value`), so a job that runs twice, or a retry after a lost
response, finds the resource instead of writing another; every later send
is a PUT of that resource. The body is built from the case as it is when the
row is sent, so a late retry of an older row never puts an old status back.

Alerts (an information request or an attestation waiting for a clinician)
go the same way as a Communication or Task addressed to the ordering
practitioner, where the connection allows (`alert_resource`). They carry
what the EHR already holds (the patient and order references, the order's
description) and a link to the case here — not the payer's letter or the
packet.
"""

from __future__ import annotations

import base64
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from fhirclient.models.claimresponse import ClaimResponse
from fhirclient.models.communication import Communication
from fhirclient.models.documentreference import DocumentReference
from fhirclient.models.fhirabstractbase import FHIRValidationError
from fhirclient.models.questionnaireresponse import QuestionnaireResponse
from fhirclient.models.task import Task as FhirTask

from cases.models import CaseEvent, PriorAuthCase, Role, Status, Task
from cases.services import case_event_add, task_create
from integrations.base import IntegrationError
from integrations.ehr_fhir.client import FhirSession
from integrations.ehr_fhir.models import EhrConnection, WriteBack
from integrations.outbox import FAILED, Outbox, RetryPolicy, outbox_claim, outbox_retry_or_fail

MAX_ATTEMPTS = 8
CASE_IDENTIFIER = "urn:priorauth:pa-case"
ALERT_IDENTIFIER = "urn:priorauth:pa-alert"
# The statuses a clinician in the EHR needs to see (PRODUCT.md step 9).
CHART_STATUSES = frozenset(
    {
        Status.SUBMITTED,
        Status.PENDED,
        Status.APPROVED,
        Status.PARTIALLY_APPROVED,
        Status.DENIED,
        Status.APPEALED,
        Status.EXPIRED,
        Status.CANCELLED,
    }
)
# Tasks that wait for a clinician: the payer's information request, clinical input / attestation, peer-to-peer.
ALERT_TASKS = frozenset({Task.Kind.ANSWER_INFO_REQUEST, Task.Kind.CLINICIAN_INPUT, Task.Kind.PEER_TO_PEER})
SAID = {
    Status.SUBMITTED: "submitted to the payer, awaiting a decision",
    Status.PENDED: "pended: the payer asks for more information",
    Status.APPROVED: "approved",
    Status.PARTIALLY_APPROVED: "partially approved",
    Status.DENIED: "denied",
    Status.APPEALED: "under appeal",
    Status.EXPIRED: "expired before the service was done",
    Status.CANCELLED: "cancelled",
}
WAITING = (Status.SUBMITTED, Status.PENDED, Status.APPEALED)  # the payer has not (finally) decided
# FHIR R4 Task.status for the request's state: on-hold while the payer waits on
# us, in-progress while we wait on the payer, completed once decided.
TASK_STATUS = {
    Status.SUBMITTED: "in-progress",
    Status.PENDED: "on-hold",
    Status.APPROVED: "completed",
    Status.PARTIALLY_APPROVED: "completed",
    Status.DENIED: "completed",
    Status.APPEALED: "in-progress",
    Status.EXPIRED: "completed",
    Status.CANCELLED: "cancelled",
}
# X12 306 review action codes as the PAS ClaimResponse carries them (pended, certified in total / partial,
# not certified, cancelled); no code while the request waits for a first answer or an appeal.
REVIEW_ACTION = {
    Status.PENDED: "A4",
    Status.APPROVED: "A1",
    Status.PARTIALLY_APPROVED: "A2",
    Status.DENIED: "A3",
    Status.CANCELLED: "C",
}
PAS = "http://hl7.org/fhir/us/davinci-pas/StructureDefinition/"
X12_306 = "https://codesystem.x12.org/005010/306"
# No "sending" state: the row lock is the claim, held over the conditional POST (harmless to repeat).
WRITE_BACKS = Outbox(
    model=WriteBack,
    due_states=(WriteBack.State.PENDING, WriteBack.State.RETRY),
    retry_state=WriteBack.State.RETRY,
    failed_state=WriteBack.State.FAILED,
    # 1, 2, 4 … minutes, capped at 6 hours.
    policy=RetryPolicy(max_attempts=MAX_ATTEMPTS, base=timedelta(minutes=1), cap=timedelta(hours=6)),
)


def payer_request(case: PriorAuthCase) -> str:
    """The payer's information request as it came (the text of the open "answer" task)."""
    task = (
        Task.objects.filter(case=case, kind=Task.Kind.ANSWER_INFO_REQUEST)
        .order_by("-created_at", "-pk")
        .values_list("detail", flat=True)
        .first()
    )
    if not task:
        return ""
    text = task.split("\n\nOriginal packet")[0]
    return text.removeprefix("The payer's request, as sent:\n").strip()[:1000]


def status_text(case: PriorAuthCase) -> str:
    """One paragraph a clinician reads in the chart: where the request stands."""
    parts = [f"Prior authorization for {case.order.description}: {SAID.get(case.status, case.get_status_display())}"]
    if case.payer_id:
        parts[0] += f" ({case.payer})"
    if case.authorization_number:
        parts.append(f"authorization {case.authorization_number}")
    if case.auth_effective_start:
        parts.append(f"valid {case.auth_effective_start} to {case.auth_effective_end or 'open'}")
    if case.units_approved is not None and case.status in (Status.APPROVED, Status.PARTIALLY_APPROVED):
        parts.append(f"{case.units_approved:g} units")
    if case.status == Status.DENIED and case.denial_reason_code:
        parts.append(f"reason {case.denial_reason_code}")
    text = ", ".join(parts) + "."
    if case.status == Status.PENDED:
        asked = payer_request(case)
        if asked:
            text += f" The payer asks: {asked}"
        if case.decision_due_at:
            text += f" Answer due {timezone.localtime(case.decision_due_at):%m/%d/%Y}."
    return text


def _period(case: PriorAuthCase) -> dict:
    period = {}
    if case.auth_effective_start:
        period["start"] = case.auth_effective_start.isoformat()
    if case.auth_effective_end:
        period["end"] = case.auth_effective_end.isoformat()
    return period


def _claim_response(case, identifier, patient, text, now, connection) -> tuple[dict, type]:
    body = {
        "resourceType": "ClaimResponse",
        "identifier": [identifier],
        "status": "cancelled" if case.status == Status.CANCELLED else "active",
        "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/claim-type", "code": "professional"}]},
        "use": "preauthorization",
        "patient": patient,
        "created": now,
        "insurer": {"display": str(case.payer or "payer")},
        # queued: the payer has not finished with it (waiting, pended, appeal).
        "outcome": "complete" if case.status in REVIEW_ACTION and case.status != Status.PENDED else "queued",
        "disposition": text,
    }
    if case.authorization_number:
        body["preAuthRef"] = case.authorization_number
    if _period(case):
        body["preAuthPeriod"] = _period(case)
    code = REVIEW_ACTION.get(case.status)
    if code:
        # PAS: the review action is a complex extension on the item's adjudication; its
        # code sub-extension is a defined extension, so it carries its canonical URL.
        action = [
            {
                "url": PAS + "extension-reviewActionCode",
                "valueCodeableConcept": {"coding": [{"system": X12_306, "code": code}]},
            }
        ]
        if case.authorization_number:
            action.append({"url": "number", "valueString": case.authorization_number})
        body["item"] = [
            {
                "itemSequence": 1,
                "adjudication": [
                    {
                        "category": {
                            "coding": [
                                {"system": "http://terminology.hl7.org/CodeSystem/adjudication", "code": "submitted"}
                            ]
                        },
                        "extension": [{"url": PAS + "extension-reviewAction", "extension": action}],
                    }
                ],
            }
        ]
    return body, ClaimResponse


def _task(case, identifier, patient, text, now, connection) -> tuple[dict, type]:
    body = {
        "resourceType": "Task",
        "identifier": [identifier],
        "status": TASK_STATUS.get(case.status, "in-progress"),
        "intent": "order",
        "code": {"text": "Prior authorization"},
        "description": text,
        "for": patient,
        "authoredOn": now,
        "lastModified": now,
        "businessStatus": {"text": SAID.get(case.status, case.status)},
    }
    if case.order.ehr_id:
        body["focus"] = {"reference": case.order.ehr_id}
    if case.order.ordering_provider.ehr_id:
        body["owner"] = {"reference": f"Practitioner/{case.order.ordering_provider.ehr_id}"}
    if case.status == Status.PENDED:
        asked = payer_request(case)
        body["statusReason"] = {"text": (asked or "The payer asks for more information.")[:1000]}
    outputs = []
    if case.authorization_number:
        outputs.append({"type": {"text": "authorization number"}, "valueString": case.authorization_number})
    if _period(case):
        outputs.append({"type": {"text": "authorized period"}, "valuePeriod": _period(case)})
    if outputs:
        body["output"] = outputs
    return body, FhirTask


def _document(case, identifier, patient, text, now, connection) -> tuple[dict, type]:
    body = {
        "resourceType": "DocumentReference",
        "identifier": [identifier],
        "status": "current",
        # preliminary while the payer has not decided, final once it has.
        "docStatus": "preliminary" if case.status in WAITING else "final",
        "type": {"text": "Prior authorization status"},
        "subject": patient,
        "date": now,
        "description": text[:250],
        "content": [
            {
                "attachment": {
                    "contentType": "text/plain; charset=utf-8",
                    "data": base64.b64encode(text.encode()).decode(),
                    "title": "Prior authorization status",
                    "creation": now,
                }
            }
        ],
    }
    if case.order.ehr_id:
        body["context"] = {"related": [{"reference": case.order.ehr_id}]}
    return body, DocumentReference


def _questionnaire_response(case, identifier, patient, text, now, connection) -> tuple[dict, type]:
    items = [
        {"linkId": "status", "text": "Prior authorization status", "answer": [{"valueString": SAID.get(case.status)}]},
        {"linkId": "summary", "text": "Summary", "answer": [{"valueString": text}]},
    ]
    if case.authorization_number:
        items.append(
            {
                "linkId": "auth-number",
                "text": "Authorization number",
                "answer": [{"valueString": case.authorization_number}],
            }
        )
    for link, label, value in (
        ("start", "Effective from", case.auth_effective_start),
        ("end", "Effective to", case.auth_effective_end),
    ):
        if value:
            items.append({"linkId": link, "text": label, "answer": [{"valueDate": value.isoformat()}]})
    decided = case.status not in WAITING
    body = {
        "resourceType": "QuestionnaireResponse",
        "identifier": identifier,  # 0..1 on QuestionnaireResponse
        "questionnaire": connection.questionnaire_url or "urn:priorauth:questionnaire:prior-authorization-status",
        "status": "completed" if decided else "in-progress",
        "subject": patient,
        "authored": now,
        "item": items,
    }
    if case.order.ehr_id:
        body["basedOn"] = [{"reference": case.order.ehr_id}]
    return body, QuestionnaireResponse


SHAPES = {
    "ClaimResponse": _claim_response,
    "Task": _task,
    "DocumentReference": _document,
    "QuestionnaireResponse": _questionnaire_response,
}


def _checked(body: dict, model, resource_type: str) -> dict:
    try:
        return model(body, strict=True).as_json()
    except FHIRValidationError as exc:
        raise IntegrationError(f"The {resource_type} we built is not valid FHIR R4: {exc}", permanent=True) from exc


def build_resource(case: PriorAuthCase, wb: WriteBack, connection: EhrConnection | None = None) -> dict:
    """The FHIR R4 resource for this row, checked by fhirclient's models."""
    connection = connection or EhrConnection.objects.get(practice_id=case.practice_id)
    if wb.purpose == WriteBack.Purpose.ALERT:
        return build_alert(case, wb, connection)
    shape = SHAPES.get(wb.resource_type)
    if shape is None:
        raise IntegrationError(f"Cannot write a {wb.resource_type or 'nothing'}.", permanent=True)
    identifier = {"system": wb.identifier_system, "value": wb.identifier_value}
    patient = {"reference": f"Patient/{case.patient.ehr_id}"}
    body, model = shape(case, identifier, patient, status_text(case), timezone.now().isoformat(), connection)
    return _checked(body, model, wb.resource_type)


def _alert_text(case: PriorAuthCase, task: Task | None) -> str:
    what = task.get_kind_display() if task else "Clinician input"
    text = f"Prior authorization for {case.order.description} needs you: {what}."
    if task and task.due_at:
        text += f" Due {timezone.localtime(task.due_at):%m/%d/%Y}."
    if settings.PUBLIC_BASE_URL:
        text += f" Open the case: {settings.PUBLIC_BASE_URL}/cases/{case.pk}/"
    return text


def build_alert(case: PriorAuthCase, wb: WriteBack, connection: EhrConnection) -> dict:
    """A Communication or Task to the ordering practitioner; done when the app's task is done."""
    task = Task.objects.filter(pk=wb.task_id).first()
    done = task is None or task.done_at is not None
    identifier = {"system": wb.identifier_system, "value": wb.identifier_value}
    patient = {"reference": f"Patient/{case.patient.ehr_id}"}
    practitioner = {"reference": f"Practitioner/{case.order.ordering_provider.ehr_id}"}
    text = _alert_text(case, task)
    now = timezone.now().isoformat()
    if wb.resource_type == "Communication":
        body = {
            "resourceType": "Communication",
            "identifier": [identifier],
            "status": "completed" if done else "in-progress",
            "category": [{"text": "Prior authorization"}],
            "priority": "urgent" if case.urgency == "expedited" else "routine",
            "subject": patient,
            "recipient": [practitioner],
            "sent": now,
            "payload": [{"contentString": text}],
        }
        if case.order.ehr_id:
            body["about"] = [{"reference": case.order.ehr_id}]
        return _checked(body, Communication, "Communication")
    if wb.resource_type == "Task":
        body = {
            "resourceType": "Task",
            "identifier": [identifier],
            "status": "completed" if done else "requested",
            "intent": "order",
            "priority": "urgent" if case.urgency == "expedited" else "routine",
            "code": {"text": "Prior authorization: clinician input"},
            "description": text,
            "for": patient,
            "owner": practitioner,
            "authoredOn": now,
            "lastModified": now,
        }
        if case.order.ehr_id:
            body["focus"] = {"reference": case.order.ehr_id}
        if task and task.due_at:
            body["restriction"] = {"period": {"end": task.due_at.isoformat()}}
        return _checked(body, FhirTask, "Task")
    raise IntegrationError(f"Cannot send an alert as {wb.resource_type or 'nothing'}.", permanent=True)


def writeback_record(*, case: PriorAuthCase, event, to_status: str) -> WriteBack:
    """Outbox row for a status the chart shows; called inside the transaction that moved the case."""
    connection = EhrConnection.objects.filter(practice_id=case.practice_id).first()
    key = f"case-{case.pk}-event-{event.pk}"
    wb = WriteBack(
        case=case,
        decision=to_status,
        identifier_system=CASE_IDENTIFIER,
        identifier_value=f"pa-case-{case.pk}",  # one resource per case, updated in place
        idempotency_key=key,
    )
    why = ""
    if connection is None:
        why = "the practice has no EHR connection"
    elif not connection.write_resource:
        why = "the EHR connection allows no writes"
    elif not case.patient.ehr_id:
        why = "the patient is not linked to the EHR"
    if why:
        said = WriteBack.objects.filter(case=case, state=WriteBack.State.UNSUPPORTED, error=why).exists()
        wb.state = WriteBack.State.UNSUPPORTED
        wb.error = why
        wb.save()
        if not said:  # once per case: every later status would only repeat it
            case_event_add(
                case=case,
                kind=CaseEvent.Kind.WRITE_BACK,
                message=f"Write-back not supported: {why}",
                write_back_id=wb.pk,
            )
        return wb
    wb.resource_type = connection.write_resource
    wb.save()
    return wb


def alert_record(*, task: Task, done: bool = False) -> WriteBack | None:
    """Outbox row for an alert to the ordering practitioner (or its closing), inside the task's transaction.

    None when the connection sends no alerts: the app's own task is the alert then.
    """
    case = task.case
    connection = EhrConnection.objects.filter(practice_id=case.practice_id).first()
    if connection is None or not connection.alert_resource:
        return None
    if done and not WriteBack.objects.filter(task=task, purpose=WriteBack.Purpose.ALERT).exists():
        return None
    key = f"task-{task.pk}-{'done' if done else 'open'}"
    if WriteBack.objects.filter(idempotency_key=key).exists():
        return None
    wb = WriteBack(
        case=case,
        task=task,
        purpose=WriteBack.Purpose.ALERT,
        decision="done" if done else "open",
        identifier_system=ALERT_IDENTIFIER,
        identifier_value=f"pa-task-{task.pk}",
        idempotency_key=key,
        resource_type=connection.alert_resource,
    )
    why = ""
    if not case.patient.ehr_id:
        why = "the patient is not linked to the EHR"
    elif not case.order.ordering_provider.ehr_id:
        why = "the ordering provider is not linked to an EHR Practitioner"
    if why:
        wb.state = WriteBack.State.UNSUPPORTED
        wb.error = why
    wb.save()
    return wb


def _existing_id(wb: WriteBack) -> str:
    """The EHR id of the resource an earlier row of this case (or task) already wrote."""
    return (
        WriteBack.objects.filter(
            case_id=wb.case_id,
            identifier_system=wb.identifier_system,
            identifier_value=wb.identifier_value,
            resource_type=wb.resource_type,
            state=WriteBack.State.DONE,
        )
        .exclude(ehr_resource_id="")
        .values_list("ehr_resource_id", flat=True)
        .first()
        or ""
    )


def _send(session: FhirSession, wb: WriteBack, resource: dict) -> tuple[str, str]:
    """Create once, update after: returns (what happened, resource id)."""
    known = _existing_id(wb)
    if not known:
        status, body = session.create_conditional(
            resource, if_none_exist=f"identifier={wb.identifier_system}|{wb.identifier_value}"
        )
        if status == 201:
            return "written", body.get("id", "")
        # It exists: written by an attempt whose answer was lost, or by an earlier
        # status whose row failed. Find it, then bring it up to date below.
        known = body.get("id") or session.find_id(resource["resourceType"], wb.identifier_system, wb.identifier_value)
        if not known:
            raise IntegrationError("The EHR says the resource exists but does not return it.")
    session.update(resource["resourceType"], known, resource)
    return "updated", known


def writeback_send(*, write_back_id: int) -> WriteBack | None:
    """Send one due write-back. Safe to call twice at once: the row is claimed
    with skip_locked, the first POST is conditional and later writes are PUTs."""
    with transaction.atomic():
        wb = outbox_claim(WRITE_BACKS, write_back_id, now=timezone.now())
        if wb is None:
            return None
        case = PriorAuthCase.objects.select_related(
            "patient", "order", "order__ordering_provider", "payer", "practice"
        ).get(pk=wb.case_id)
        try:
            connection = EhrConnection.objects.get(practice_id=case.practice_id)
            session = FhirSession(connection, purpose="write_back", system_actor="write_back", case=case)
            happened, resource_id = _send(session, wb, build_resource(case, wb, connection))
        except (IntegrationError, EhrConnection.DoesNotExist) as exc:
            _failed(wb, case, exc)
            return wb
        wb.state = WriteBack.State.DONE
        wb.ehr_resource_id = resource_id
        wb.done_at = timezone.now()
        wb.error = ""
        wb.save()
        what = "Clinician alert" if wb.purpose == WriteBack.Purpose.ALERT else f"Status '{case.get_status_display()}'"
        case_event_add(
            case=case,
            kind=CaseEvent.Kind.WRITE_BACK,
            message=f"{what} {happened} in the EHR as {wb.resource_type}/{resource_id}".rstrip("/"),
            write_back_id=wb.pk,
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
            title="Enter the PA status in the EHR by hand"
            if wb.purpose == WriteBack.Purpose.CHART
            else "Tell the clinician outside the EHR",
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
