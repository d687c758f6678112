"""The PAS request Bundle for a case: Claim (use = preauthorization) first, then
everything it references, each with a `urn:uuid:` fullUrl so every reference
resolves inside the bundle.

Minimum necessary: the patient's name, birth date and MRN (the payer matches the
member with them), the coverage, the order, its diagnoses and the packet the
staff assembled — nothing else from the chart.
"""

from __future__ import annotations

import base64
import uuid

from django.utils import timezone

from cases.models import Order, PriorAuthCase, Urgency

PAS_SD = "http://hl7.org/fhir/us/davinci-pas/StructureDefinition/"
CLAIM_PROFILE = PAS_SD + "profile-claim"
SUBMISSION_SYSTEM = "urn:priorauth:submission"
NPI = "http://hl7.org/fhir/sid/us-npi"
ICD10 = "http://hl7.org/fhir/sid/icd-10-cm"
CODE_SYSTEMS = {
    "CPT": "http://www.ama-assn.org/go/cpt",
    "HCPCS": "https://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets",
    "NDC": "http://hl7.org/fhir/sid/ndc",
    "RxNorm": "http://www.nlm.nih.gov/research/umls/rxnorm",
}
SUPPORTING_INFO_TYPE = "http://hl7.org/us/davinci-pas/CodeSystem/PASSupportingInfoType"
EMBED_MAX_BYTES = 5 * 1024 * 1024


def _urn() -> str:
    return f"urn:uuid:{uuid.uuid4()}"


def _ref(url: str) -> dict:
    return {"reference": url}


class _Builder:
    def __init__(self):
        self.entries: list[dict] = []

    def add(self, resource: dict) -> str:
        url = _urn()
        resource.setdefault("id", url.rsplit(":", 1)[1])
        self.entries.append({"fullUrl": url, "resource": resource})
        return url


def _code(system_name: str, code: str, display: str = "") -> dict:
    coding = {"system": CODE_SYSTEMS.get(system_name, system_name), "code": code}
    if display:
        coding["display"] = display[:200]
    return {"coding": [coding], **({"text": display[:200]} if display else {})}


def _parties(b: _Builder, case: PriorAuthCase) -> dict:
    """Patient, payer and practice organizations, coverage: what both $submit and $inquire need."""
    patient = case.patient
    practice = case.practice
    payer = case.payer
    urls = {}
    urls["patient"] = b.add(
        {
            "resourceType": "Patient",
            "identifier": [
                {
                    "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR"}]},
                    "system": f"urn:priorauth:practice:{practice.pk}:mrn",
                    "value": patient.mrn,
                }
            ],
            "name": [{"family": patient.last_name, "given": [patient.first_name]}],
            "birthDate": patient.birth_date.isoformat(),
            "gender": "unknown",
        }
    )
    insurer = {"resourceType": "Organization", "name": payer.name, "active": True}
    if payer.payer_id:
        insurer["identifier"] = [{"system": "urn:priorauth:payer-id", "value": payer.payer_id}]
    urls["insurer"] = b.add(insurer)
    provider = {"resourceType": "Organization", "name": practice.name, "active": True}
    if practice.npi:
        provider["identifier"] = [{"system": NPI, "value": practice.npi}]
    urls["provider"] = b.add(provider)
    coverage = case.order.coverage or case.patient.coverages.filter(payer=payer).first()
    cov = {
        "resourceType": "Coverage",
        "status": "active",
        "beneficiary": _ref(urls["patient"]),
        "payor": [_ref(urls["insurer"])],
    }
    if coverage is not None:
        cov["subscriberId"] = coverage.member_id
        cov["period"] = {
            "start": coverage.start.isoformat(),
            **({"end": coverage.end.isoformat()} if coverage.end else {}),
        }
        if coverage.plan_id:
            cov["class"] = [
                {
                    "type": {
                        "coding": [{"system": "http://terminology.hl7.org/CodeSystem/coverage-class", "code": "plan"}]
                    },
                    "value": coverage.plan.name,
                }
            ]
    urls["coverage"] = b.add(cov)
    return urls


def _claim(case: PriorAuthCase, submission_key: str, urls: dict) -> dict:
    order = case.order
    return {
        "resourceType": "Claim",
        "meta": {"profile": [CLAIM_PROFILE]},
        "identifier": [{"system": SUBMISSION_SYSTEM, "value": submission_key}],
        "status": "active",
        "type": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/claim-type",
                    "code": "pharmacy" if order.kind == Order.Kind.MEDICATION else "professional",
                }
            ]
        },
        "use": "preauthorization",
        "patient": _ref(urls["patient"]),
        "created": timezone.now().isoformat(timespec="seconds"),
        "insurer": _ref(urls["insurer"]),
        "provider": _ref(urls["provider"]),
        "priority": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/processpriority",
                    "code": "stat" if case.urgency == Urgency.EXPEDITED else "normal",
                }
            ]
        },
        "insurance": [{"sequence": 1, "focal": True, "coverage": _ref(urls["coverage"])}],
        "item": [
            {
                "sequence": 1,
                "productOrService": _code(order.code_system, order.code, order.description),
                "servicedDate": order.service_date.isoformat(),
                "quantity": {"value": float(order.quantity), "unit": order.units},
            }
        ],
    }


def build_request_bundle(case: PriorAuthCase, *, submission_key: str) -> dict:
    """The $submit Bundle: Claim first, then Patient, payer and practice, Coverage,
    Practitioner, the order, and the packet (summary and documents)."""
    b = _Builder()
    b.entries.append({})  # the Claim's place, filled last
    urls = _parties(b, case)
    order = case.order
    provider = order.ordering_provider
    practitioner = {
        "resourceType": "Practitioner",
        "identifier": [{"system": NPI, "value": provider.npi}],
        "name": [{"family": provider.last_name, "given": [provider.first_name]}],
    }
    urls["practitioner"] = b.add(practitioner)
    code = _code(order.code_system, order.code, order.description)
    common = {"status": "active", "intent": "order", "subject": _ref(urls["patient"])}
    if order.kind == Order.Kind.MEDICATION:
        request = {
            "resourceType": "MedicationRequest",
            **common,
            "medicationCodeableConcept": code,
            "requester": _ref(urls["practitioner"]),
            "authoredOn": order.created_at.date().isoformat(),
            "dispenseRequest": {"quantity": {"value": float(order.quantity), "unit": order.units}},
        }
    elif order.kind == Order.Kind.DEVICE:
        request = {
            "resourceType": "DeviceRequest",
            **common,
            "codeCodeableConcept": code,
            "requester": _ref(urls["practitioner"]),
            "occurrenceDateTime": order.service_date.isoformat(),
        }
    else:
        request = {
            "resourceType": "ServiceRequest",
            **common,
            "code": code,
            "requester": _ref(urls["practitioner"]),
            "occurrenceDateTime": order.service_date.isoformat(),
            "quantityQuantity": {"value": float(order.quantity), "unit": order.units},
        }
    if order.diagnosis_codes and request["resourceType"] != "DeviceRequest":
        request["reasonCode"] = [{"coding": [{"system": ICD10, "code": dx}]} for dx in order.diagnosis_codes]
    if order.priority != Order.Priority.ROUTINE and request["resourceType"] != "DeviceRequest":
        request["priority"] = "urgent" if order.priority == Order.Priority.URGENT else "stat"
    urls["request"] = b.add(request)

    claim = _claim(case, submission_key, urls)
    claim["item"][0]["extension"] = [
        {"url": PAS_SD + "extension-requestedService", "valueReference": _ref(urls["request"])}
    ]
    claim["careTeam"] = [{"sequence": 1, "provider": _ref(urls["practitioner"])}]
    claim["diagnosis"] = [
        {"sequence": i, "diagnosisCodeableConcept": {"coding": [{"system": ICD10, "code": dx}]}}
        for i, dx in enumerate(order.diagnosis_codes or [], start=1)
    ]
    supporting = []
    if case.summary_text:
        supporting.append(
            {
                "category": {"coding": [{"system": SUPPORTING_INFO_TYPE, "code": "additionalInformation"}]},
                "valueString": case.summary_text[:10000],
            }
        )
    for document in case.documents.all():
        doc = {
            "resourceType": "DocumentReference",
            "status": "current",
            "subject": _ref(urls["patient"]),
            "description": document.title[:200],
            "content": [{"attachment": _attachment(document)}],
        }
        supporting.append(
            {
                "category": {"coding": [{"system": SUPPORTING_INFO_TYPE, "code": "freeFormMessage"}]},
                "valueReference": _ref(b.add(doc)),
            }
        )
    for i, info in enumerate(supporting, start=1):
        info["sequence"] = i
    if supporting:
        claim["supportingInfo"] = supporting
    claim_url = _urn()
    claim["id"] = claim_url.rsplit(":", 1)[1]
    b.entries[0] = {"fullUrl": claim_url, "resource": claim}
    return {
        "resourceType": "Bundle",
        "meta": {"profile": [PAS_SD + "profile-pas-request-bundle"]},
        "identifier": {"system": SUBMISSION_SYSTEM, "value": submission_key},
        "type": "collection",
        "timestamp": timezone.now().isoformat(timespec="seconds"),
        "entry": b.entries,
    }


def build_inquiry_bundle(case: PriorAuthCase, *, submission_key: str) -> dict:
    """The $inquire Bundle: the Claim as submitted (same identifier), with the parties only."""
    b = _Builder()
    b.entries.append({})
    urls = _parties(b, case)
    claim = _claim(case, submission_key, urls)
    claim_url = _urn()
    claim["id"] = claim_url.rsplit(":", 1)[1]
    b.entries[0] = {"fullUrl": claim_url, "resource": claim}
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "timestamp": timezone.now().isoformat(timespec="seconds"),
        "entry": b.entries,
    }


def _attachment(document) -> dict:
    attachment = {"title": document.title[:200], "contentType": document.content_type or "application/octet-stream"}
    if document.file and 0 < document.size_bytes <= EMBED_MAX_BYTES:
        with document.file.open("rb") as fh:
            attachment["data"] = base64.b64encode(fh.read()).decode()
    elif document.ehr_reference:
        attachment["url"] = document.ehr_reference
    return attachment


def claim_identifier(bundle: dict) -> str:
    """Our submission key from a request or inquiry bundle (used by the sandbox and peers)."""
    claim = ((bundle.get("entry") or [{}])[0] or {}).get("resource") or {}
    for ident in claim.get("identifier") or []:
        if ident.get("system") == SUBMISSION_SYSTEM:
            return ident.get("value", "")
    return ""
