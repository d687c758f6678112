"""Packet assembly: each documentation requirement of a case's rule becomes
met (with its evidence) or a gap.

The decision is the payer's rule and lives in payers/requirements.py; this
module is its EHR side. `FhirChart` answers the facts a requirement asks for
with FHIR searches limited to what that requirement names (the resource
type, the code, the look-back start) and turns each resource into a plain
fact, dropping records that do not count (entered-in-error, inactive,
superseded). `assemble_packet` stores the findings on the case.
"""

from __future__ import annotations

import base64
import binascii
from datetime import date

from django.core.files.base import ContentFile
from django.db import transaction

from cases.models import CaseEvent, Document, PriorAuthCase, RequirementStatus
from cases.services import case_event_add
from integrations.base import IntegrationError
from integrations.ehr_fhir import mapping
from integrations.ehr_fhir.client import FhirSession
from integrations.ehr_fhir.models import EhrConnection
from payers import requirements as facts
from payers.requirements import requirement_check

# FHIR vocabularies that decide which records are facts at all; the checks in
# payers/requirements.py never see a FHIR status or category code.
IMAGING_CATEGORIES = {"RAD", "LP29684-5", "imaging", "radiology"}
# Medication and procedure states that mean "this was actually given / done".
MED_STATES = {"active", "completed", "stopped", "on-hold"}
PROCEDURE_STATES = {"completed", "in-progress"}
OBSERVATION_VOID = {"entered-in-error", "cancelled"}
CONDITION_ACTIVE = {"active", "recurrence", "relapse"}


def _ref(resource: dict) -> str:
    return f"{resource['resourceType']}/{resource['id']}"


def _display(concept: dict | None) -> str:
    concept = concept or {}
    return concept.get("text") or next((c.get("display") for c in mapping.codings(concept) if c.get("display")), "")


def _codes(concept: dict | None, system: str | None = None) -> tuple[str, ...]:
    return tuple(
        c["code"] for c in mapping.codings(concept) if c.get("code") and (system is None or c.get("system") == system)
    )


def _date_param(params: dict, since: date | None) -> dict:
    # The server narrows by date; payers/requirements.py applies the window again on the facts.
    if since:
        params["date"] = f"ge{since.isoformat()}"
    return params


class FhirChart:
    """One patient's chart read over FHIR, as the facts payers/requirements.py checks (its `Chart`)."""

    def __init__(self, session: FhirSession, case: PriorAuthCase):
        self.session = session
        self.patient = case.patient
        self.pref = f"Patient/{case.patient.ehr_id}"

    def search(self, resource_type: str, params: dict) -> list[dict]:
        return self.session.search(resource_type, {"patient": self.pref, **params}, patient=self.patient)

    def lab_results(self, *, loinc: str, since: date | None) -> list[facts.LabResult]:
        params = _date_param({"code": f"{mapping.LOINC}|{loinc}", "_sort": "-date"}, since)
        found = []
        for obs in self.search("Observation", params):
            if obs.get("status") in OBSERVATION_VOID:
                continue
            day = mapping.period_of(obs, "effective")[0] or mapping.parse_date(obs.get("issued"))
            value = mapping.quantity_text(obs) or _display(obs.get("code"))
            found.append(facts.LabResult(_ref(obs), day, _codes(obs.get("code"), mapping.LOINC), value))
        return found

    def diagnoses(self) -> list[facts.Diagnosis]:
        # Token search cannot match a code prefix, so the patient's conditions are
        # read (codes and dates only are kept) and matched in payers/requirements.py.
        found = []
        for cond in self.search("Condition", {}):
            status = next((c.get("code") for c in mapping.codings(cond.get("clinicalStatus"))), "active")
            if status not in CONDITION_ACTIVE:
                continue
            day = mapping.period_of(cond, "onset")[0] or mapping.parse_date(cond.get("recordedDate"))
            codes = tuple(mapping.icd10_codes(cond.get("code")))
            found.append(facts.Diagnosis(_ref(cond), day, codes, _display(cond.get("code"))))
        return found

    def medications(self, *, rxnorm: str) -> list[facts.MedicationUse]:
        params = {"code": f"{mapping.RXNORM}|{rxnorm}"} if rxnorm else {}
        found = []
        for med in self.search("MedicationRequest", params):
            if med.get("status") not in MED_STATES:
                continue
            # A prescription's course is its validity period, else from when it was written.
            validity = (med.get("dispenseRequest") or {}).get("validityPeriod") or {}
            start = mapping.parse_date(validity.get("start")) or mapping.parse_date(med.get("authoredOn"))
            found.append(self._medication(med, start, mapping.parse_date(validity.get("end"))))
        for stmt in self.search("MedicationStatement", params):
            if stmt.get("status") not in MED_STATES:
                continue
            found.append(self._medication(stmt, *mapping.period_of(stmt, "effective")))
        return found

    @staticmethod
    def _medication(resource: dict, start: date | None, end: date | None) -> facts.MedicationUse:
        concept = resource.get("medicationCodeableConcept") or {}
        names = (concept.get("text") or "", *(c.get("display") or "" for c in mapping.codings(concept)))
        return facts.MedicationUse(
            _ref(resource), start, end, _codes(concept, mapping.RXNORM), names, _display(concept)
        )

    def procedures(self, *, code: str, since: date | None) -> list[facts.ProcedureDone]:
        found = []
        for proc in self.search("Procedure", _date_param({"code": code}, since)):
            if proc.get("status") not in PROCEDURE_STATES:
                continue
            start, end = mapping.period_of(proc, "performed")
            found.append(
                facts.ProcedureDone(_ref(proc), start, end, _codes(proc.get("code")), _display(proc.get("code")))
            )
        return found

    def reports(self, *, loinc: str, since: date | None) -> list[facts.Report]:
        params = _date_param({"_sort": "-date"}, since)
        if loinc:
            params["code"] = f"{mapping.LOINC}|{loinc}"
        found = []
        for rep in self.search("DiagnosticReport", params):
            cats = {c.get("code") for concept in rep.get("category") or [] for c in mapping.codings(concept)}
            day = mapping.period_of(rep, "effective")[0] or mapping.parse_date(rep.get("issued"))
            text = (rep.get("conclusion") or _display(rep.get("code")))[:200]
            found.append(
                facts.Report(
                    _ref(rep), day, _codes(rep.get("code"), mapping.LOINC), bool(cats & IMAGING_CATEGORIES), text
                )
            )
        return found

    def notes(self, *, since: date | None) -> list[facts.Note]:
        found = []
        for doc in self.search("DocumentReference", _date_param({"_sort": "-date"}, since)):
            if doc.get("status") != "current":
                continue
            day = mapping.parse_date(doc.get("date")) or mapping.period_of(doc.get("context") or {}, "period")[0]
            attachment = ((doc.get("content") or [{}])[0]).get("attachment") or {}
            title = attachment.get("title") or _display(doc.get("type"))
            found.append(facts.Note(_ref(doc), day, title, attachment.get("contentType", "")))
        return found

    def visits(self, *, since: date | None) -> list[facts.Visit]:
        return [
            facts.Visit(_ref(enc), mapping.period_of(enc, "period")[0])
            for enc in self.search("Encounter", _date_param({}, since))
            if enc.get("status") == "finished"
        ]


def assemble_packet(*, case: PriorAuthCase, user=None) -> dict:
    """Evaluate every non-waived requirement of the case against the EHR.

    Returns counts. Raises IntegrationError (nothing saved) if the EHR fails
    part-way, so a half-evaluated checklist is never shown as current.
    """
    case = PriorAuthCase.objects.select_related("patient", "order", "practice").get(pk=case.pk)
    if not case.patient.ehr_id:
        raise IntegrationError("The patient is not linked to the EHR; evidence must be uploaded.", permanent=True)
    try:
        connection = EhrConnection.objects.get(practice=case.practice)
    except EhrConnection.DoesNotExist as exc:
        raise IntegrationError("The practice has no EHR connection.", permanent=True) from exc
    session = FhirSession(connection, purpose="packet_assembly", user=user, system_actor="packet_assembly", case=case)
    chart = FhirChart(session, case)
    service_date = case.order.service_date
    statuses = list(
        case.requirement_statuses.select_related("requirement").exclude(state=RequirementStatus.State.WAIVED)
    )
    findings = [(rs, requirement_check(rs.requirement, chart=chart, service_date=service_date)) for rs in statuses]
    met = gaps = 0
    with transaction.atomic():
        for rs, finding in findings:
            rs.state = RequirementStatus.State.MET if finding.met else RequirementStatus.State.GAP
            rs.evidence = finding.evidence
            rs.note = finding.note[:300]
            rs.save(update_fields=["state", "evidence", "note", "updated_at"])
            met += finding.met
            gaps += not finding.met
            for doc in finding.documents:
                Document.objects.get_or_create(
                    case=case,
                    ehr_reference=doc["ref"],
                    defaults={
                        "title": doc["title"],
                        "kind": Document.Kind.CLINICAL_NOTE,
                        "source": Document.Source.EHR,
                        "content_type": doc["content_type"],
                        "requirement": rs.requirement,
                    },
                )
        case_event_add(
            case=case,
            kind=CaseEvent.Kind.DOCUMENT,
            actor=user,
            message=f"Checked the EHR: {met} requirement(s) met, {gaps} gap(s)",
            met=met,
            gaps=gaps,
        )
    fetched = documents_fetch(session=session, case=case)
    return {
        "met": met,
        "gaps": gaps,
        "kinds": sorted({rs.requirement.kind for rs in statuses}),
        "documents_fetched": fetched,
    }


# Notes bigger than this are not copied here at all (the PAS payer's own budget is
# usually smaller: what does not fit it is named on the case to send by fax/portal).
DOCUMENT_FETCH_MAX_BYTES = 20 * 1024 * 1024


def documents_fetch(*, session: FhirSession, case: PriorAuthCase) -> int:
    """Copy the content of the case's EHR notes (attached by reference) so it can be sent.

    The DocumentReference's attachment is read inline (`data`) or from the EHR's
    `Binary` it points at. A note whose content cannot be had (an outside URL, a
    failed read, over the cap) stays attached by reference, and the timeline says
    why: the submission then names it as not sent, with a task. Returns how many
    notes were copied.
    """
    fetched = 0
    pending = case.documents.filter(source=Document.Source.EHR, file="").exclude(ehr_reference="")
    for document in pending:
        try:
            content, content_type = _document_content(session, case, document.ehr_reference)
        except (IntegrationError, ValueError, binascii.Error) as exc:
            reason = str(exc)[:200]
            content = None
        else:
            reason = (
                "" if len(content) <= DOCUMENT_FETCH_MAX_BYTES else f"larger than {DOCUMENT_FETCH_MAX_BYTES:,} bytes"
            )
        if content is None or reason:
            case_event_add(
                case=case,
                kind=CaseEvent.Kind.DOCUMENT,
                message=f"Could not copy the EHR note {document.title}: {reason}",
                document_id=document.pk,
            )
            continue
        document.file.save(f"ehr-note{_suffix(content_type)}", ContentFile(content), save=False)
        document.size_bytes = len(content)
        document.content_type = content_type or document.content_type
        document.save(update_fields=["file", "size_bytes", "content_type"])
        fetched += 1
    return fetched


def _suffix(content_type: str) -> str:
    return {"application/pdf": ".pdf", "text/plain": ".txt", "text/html": ".html", "text/rtf": ".rtf"}.get(
        (content_type or "").split(";")[0].strip(), ".bin"
    )


def _document_content(session: FhirSession, case: PriorAuthCase, reference: str) -> tuple[bytes, str]:
    resource_type, _, resource_id = reference.partition("/")
    if resource_type != "DocumentReference" or not resource_id:
        raise ValueError(f"not a DocumentReference reference ({reference[:60]})")
    doc = session.read("DocumentReference", resource_id, patient=case.patient)
    attachments = [(c or {}).get("attachment") or {} for c in doc.get("content") or []]
    # Prefer a PDF or text rendition when the EHR offers several.
    attachments.sort(key=lambda a: 0 if (a.get("contentType") or "").startswith(("application/pdf", "text/")) else 1)
    for attachment in attachments:
        content_type = attachment.get("contentType", "")
        if attachment.get("data"):
            return base64.b64decode(attachment["data"], validate=True), content_type
        url = attachment.get("url") or ""
        binary_id = url.split("Binary/", 1)[1].strip("/") if "Binary/" in url else ""
        if binary_id and (not url.startswith("http") or url.startswith(session.base)):
            binary = session.read("Binary", binary_id, patient=case.patient)
            if binary.get("data"):
                return base64.b64decode(binary["data"], validate=True), binary.get("contentType") or content_type
    raise ValueError("the note has no inline content or EHR Binary to read")
