"""Packet assembly: each documentation requirement of a case's rule becomes
met (with its evidence) or a gap, reading from the EHR only what that
requirement names — the resource type, the code, the look-back window.

Look-back windows are inclusive: "within 90 days" of a service on day D is
met by evidence dated D-90 or later (dates compared as calendar days).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from django.db import transaction

from cases.models import CaseEvent, Document, PriorAuthCase, RequirementStatus
from cases.services import case_event_add
from integrations.base import IntegrationError
from integrations.ehr_fhir import mapping
from integrations.ehr_fhir.client import FhirSession
from integrations.ehr_fhir.models import EhrConnection
from payers.models import RequirementKind

IMAGING_CATEGORIES = {"RAD", "LP29684-5", "imaging", "radiology"}
# Medication and procedure states that mean "this was actually given / done".
MED_STATES = {"active", "completed", "stopped", "on-hold"}
PROCEDURE_STATES = {"completed", "in-progress"}


@dataclass
class Finding:
    met: bool
    evidence: list[dict] = field(default_factory=list)
    note: str = ""
    documents: list[dict] = field(default_factory=list)


def _ev(resource: dict, day: date | None, value: str) -> dict:
    return {
        "resource": f"{resource['resourceType']}/{resource['id']}",
        "date": day.isoformat() if day else "",
        "value": value[:200],
    }


def _display(concept: dict | None) -> str:
    concept = concept or {}
    return concept.get("text") or next((c.get("display") for c in mapping.codings(concept) if c.get("display")), "")


def _window(req, service_date: date) -> date | None:
    return service_date - timedelta(days=req.lookback_days) if req.lookback_days else None


class Evaluator:
    def __init__(self, session: FhirSession, case: PriorAuthCase):
        self.session = session
        self.case = case
        self.patient = case.patient
        self.pref = f"Patient/{case.patient.ehr_id}"
        self.service_date = case.order.service_date

    def search(self, resource_type: str, params: dict) -> list[dict]:
        return self.session.search(resource_type, {"patient": self.pref, **params}, patient=self.patient)

    def evaluate(self, req) -> Finding:
        handler = getattr(self, f"_{req.kind}", None)
        if handler is None:
            return Finding(False, note="A person checks this requirement.")
        return handler(req, _window(req, self.service_date))

    # -- one method per RequirementKind ------------------------------------------------

    def _lab(self, req, since):
        if not req.loinc_code:
            return Finding(False, note="No LOINC code configured for this requirement.")
        params = {"code": f"{mapping.LOINC}|{req.loinc_code}", "_sort": "-date"}
        if since:
            params["date"] = f"ge{since.isoformat()}"
        hits = []
        for obs in self.search("Observation", params):
            day, _ = mapping.period_of(obs, "effective")
            day = day or mapping.parse_date(obs.get("issued"))
            if obs.get("status") in ("entered-in-error", "cancelled") or day is None:
                continue
            if (since is None or day >= since) and day <= self.service_date:
                hits.append((day, obs))
        if not hits:
            return Finding(False, note=f"No {req.loinc_code} result" + (f" since {since}" if since else ""))
        day, obs = max(hits, key=lambda h: h[0])
        return Finding(True, [_ev(obs, day, mapping.quantity_text(obs) or _display(obs.get("code")))])

    def _diagnosis(self, req, since):
        prefix = (req.diagnosis_prefix or "").upper().replace(".", "")
        if not prefix:
            return Finding(False, note="No ICD-10 prefix configured for this requirement.")
        # Token search cannot match a code prefix, so the patient's conditions are
        # read (codes and dates only are kept) and matched here.
        hits = []
        for cond in self.search("Condition", {}):
            status = next((c.get("code") for c in mapping.codings(cond.get("clinicalStatus"))), "active")
            if status not in ("active", "recurrence", "relapse"):
                continue
            day = mapping.period_of(cond, "onset")[0] or mapping.parse_date(cond.get("recordedDate"))
            if since and (day is None or day < since):
                continue
            for code in mapping.icd10_codes(cond.get("code")):
                if code.replace(".", "").startswith(prefix):
                    hits.append(_ev(cond, day, f"{code} {_display(cond.get('code'))}".strip()))
        if not hits:
            return Finding(False, note=f"No active diagnosis {req.diagnosis_prefix}* on the problem list")
        return Finding(True, hits[:5])

    def _matches_drug(self, concept: dict, req) -> bool:
        if req.rxnorm_code and any(
            c.get("system") == mapping.RXNORM and c.get("code") == req.rxnorm_code for c in mapping.codings(concept)
        ):
            return True
        name = (req.drug_class or "").strip().lower()
        return (
            bool(name)
            and name
            in " ".join(
                [concept.get("text") or ""] + [c.get("display") or "" for c in mapping.codings(concept)]
            ).lower()
        )

    def _medication_trial(self, req, since):
        if not (req.rxnorm_code or req.drug_class):
            return Finding(False, note="No drug (RxNorm or name) configured for this requirement.")
        params = {"code": f"{mapping.RXNORM}|{req.rxnorm_code}"} if req.rxnorm_code else {}
        trials = []
        for med in self.search("MedicationRequest", params):
            if med.get("status") not in MED_STATES or not self._matches_drug(med.get("medicationCodeableConcept"), req):
                continue
            validity = (med.get("dispenseRequest") or {}).get("validityPeriod") or {}
            start = mapping.parse_date(validity.get("start")) or mapping.parse_date(med.get("authoredOn"))
            end = mapping.parse_date(validity.get("end"))
            trials.append((start, end, med))
        for stmt in self.search("MedicationStatement", params):
            if stmt.get("status") not in MED_STATES or not self._matches_drug(
                stmt.get("medicationCodeableConcept"), req
            ):
                continue
            start, end = mapping.period_of(stmt, "effective")
            trials.append((start, end, stmt))
        need = req.min_duration_days or 0
        best = None
        for start, end, res in trials:
            if start is None:
                continue
            last = end or self.service_date
            if since and last < since:
                continue  # the trial ended before the look-back window
            days = (min(last, self.service_date) - start).days
            if days >= need and (best is None or start > best[0]):
                best = (start, days, res)
        if best is None:
            what = req.drug_class or f"RxNorm {req.rxnorm_code}"
            return Finding(
                False,
                note=f"No trial of {what}"
                + (f" of ≥ {need} days" if need else "")
                + (f" since {since}" if since else ""),
            )
        start, days, res = best
        drug = _display(res.get("medicationCodeableConcept"))
        return Finding(True, [_ev(res, start, f"{drug}, {days} days")])

    def _therapy(self, req, since):
        if not req.procedure_code:
            return Finding(False, note="No procedure code configured for this requirement.")
        params = {"code": req.procedure_code}
        if since:
            params["date"] = f"ge{since.isoformat()}"
        sessions = []
        for proc in self.search("Procedure", params):
            if proc.get("status") not in PROCEDURE_STATES:
                continue
            start, end = mapping.period_of(proc, "performed")
            if start is None or (since and start < since) or start > self.service_date:
                continue
            sessions.append((start, end or start, proc))
        if not sessions:
            return Finding(False, note=f"No {req.procedure_code} therapy" + (f" since {since}" if since else ""))
        first = min(s[0] for s in sessions)
        last = max(s[1] for s in sessions)
        span = (last - first).days
        need = req.min_duration_days or 0
        evidence = [_ev(p, s, f"{_display(p.get('code')) or req.procedure_code}") for s, _, p in sorted(sessions)[:10]]
        if span < need:
            return Finding(False, evidence, note=f"Therapy spans {span} days; {need} needed")
        evidence.insert(0, {"resource": "", "date": first.isoformat(), "value": f"{span} days of therapy"})
        return Finding(True, evidence)

    def _imaging(self, req, since):
        params = {"_sort": "-date"}
        if since:
            params["date"] = f"ge{since.isoformat()}"
        if req.loinc_code:
            params["code"] = f"{mapping.LOINC}|{req.loinc_code}"
        hits = []
        for rep in self.search("DiagnosticReport", params):
            cats = {c.get("code") for concept in rep.get("category") or [] for c in mapping.codings(concept)}
            if not req.loinc_code and not cats & IMAGING_CATEGORIES:
                continue
            day = mapping.period_of(rep, "effective")[0] or mapping.parse_date(rep.get("issued"))
            if day and (since is None or day >= since) and day <= self.service_date:
                hits.append((day, rep))
        if not hits:
            return Finding(False, note="No imaging report" + (f" since {since}" if since else ""))
        day, rep = max(hits, key=lambda h: h[0])
        return Finding(True, [_ev(rep, day, (rep.get("conclusion") or _display(rep.get("code")))[:200])])

    def _note(self, req, since):
        params = {"_sort": "-date"}
        if since:
            params["date"] = f"ge{since.isoformat()}"
        hits = []
        for doc in self.search("DocumentReference", params):
            if doc.get("status") != "current":
                continue
            day = mapping.parse_date(doc.get("date")) or mapping.period_of(doc.get("context") or {}, "period")[0]
            if day and (since is None or day >= since) and day <= self.service_date:
                hits.append((day, doc))
        if hits:
            day, doc = max(hits, key=lambda h: h[0])
            attachment = ((doc.get("content") or [{}])[0]).get("attachment") or {}
            title = attachment.get("title") or _display(doc.get("type")) or "Clinical note"
            return Finding(
                True,
                [_ev(doc, day, title)],
                documents=[
                    {
                        "title": title[:200],
                        "ref": f"DocumentReference/{doc['id']}",
                        "content_type": attachment.get("contentType", ""),
                    }
                ],
            )
        # No note: a recent visit tells the coordinator which note to ask for.
        visit_params = {"date": f"ge{since.isoformat()}"} if since else {}
        visits = [e for e in self.search("Encounter", visit_params) if e.get("status") == "finished"]
        days = sorted(d for d in (mapping.period_of(e, "period")[0] for e in visits) if d)
        hint = f"; a visit on {days[-1]} has no note in the EHR" if days else ""
        return Finding(False, note=("No clinical note" + (f" since {since}" if since else "") + hint)[:300])


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
    evaluator = Evaluator(session, case)
    statuses = list(
        case.requirement_statuses.select_related("requirement").exclude(state=RequirementStatus.State.WAIVED)
    )
    findings = [(rs, evaluator.evaluate(rs.requirement)) for rs in statuses]
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
    return {"met": met, "gaps": gaps, "kinds": sorted({rs.requirement.kind for rs in statuses})}


__all__ = ["assemble_packet", "Evaluator", "Finding", "RequirementKind"]
