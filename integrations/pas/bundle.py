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
from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone

from cases.models import Order, PriorAuthCase, Urgency

PAS_SD = "http://hl7.org/fhir/us/davinci-pas/StructureDefinition/"
CLAIM_PROFILE = PAS_SD + "profile-claim"
CLAIM_UPDATE_PROFILE = PAS_SD + "profile-claim-update"
SUBMISSION_SYSTEM = "urn:priorauth:submission"
DOCUMENT_SYSTEM = "urn:priorauth:document"
# PAS Claim Update (profile-claim-update): Claim.related.relationship is fixed to "prior";
# entries added or changed since the prior version carry extension-infoChanged
# (PASInformationChangeMode: added | changed); withdrawn ones the infoCancelled
# modifier extension, and a withdrawn item also certificationType 3 (Cancel).
RELATED_CLAIM_RELATIONSHIP = "http://terminology.hl7.org/CodeSystem/ex-relatedclaimrelationship"
INFO_CHANGED = PAS_SD + "extension-infoChanged"
INFO_CANCELLED = PAS_SD + "modifierextension-infoCancelled"
CERTIFICATION_TYPE = PAS_SD + "extension-certificationType"
X12_CERTIFICATION_TYPE = "https://codesystem.x12.org/005010/1322"  # X12 1322, request UM02
CERTIFICATION_CANCEL = "3"
NPI = "http://hl7.org/fhir/sid/us-npi"
TAX_ID = "urn:oid:2.16.840.1.113883.4.4"  # US employer / taxpayer identification number
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
    elif practice.tax_id:  # what a PAS subscription then filters on (org-identifier)
        provider["identifier"] = [{"system": TAX_ID, "value": practice.tax_id}]
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


@dataclass(frozen=True)
class PriorClaim:
    """The request an update or a cancellation refers to (Claim.related, relationship "prior").

    `supporting` is what that request carried (`sent_supporting`): the update
    keeps those entries' sequences and flags only what changed since.
    """

    key: str
    supporting: tuple[dict, ...] = ()
    was_update: bool = False
    replaces_key: str = ""  # the request it updated in turn, when it was itself an update
    created: datetime | None = None


def _order_entries(b: _Builder, case: PriorAuthCase, urls: dict) -> None:
    """The ordering Practitioner and the order itself (Service/Medication/DeviceRequest)."""
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


def _full_claim(case: PriorAuthCase, submission_key: str, urls: dict, *, update: bool = False) -> dict:
    """The Claim with the requested service, care team and diagnoses (everything but supportingInfo)."""
    claim = _claim(case, submission_key, urls)
    if update:
        claim["meta"] = {"profile": [CLAIM_UPDATE_PROFILE]}
    claim["item"][0]["extension"] = [
        {"url": PAS_SD + "extension-requestedService", "valueReference": _ref(urls["request"])}
    ]
    claim["careTeam"] = [{"sequence": 1, "provider": _ref(urls["practitioner"])}]
    claim["diagnosis"] = [
        {"sequence": i, "diagnosisCodeableConcept": {"coding": [{"system": ICD10, "code": dx}]}}
        for i, dx in enumerate(case.order.diagnosis_codes or [], start=1)
    ]
    return claim


def _related(prior_key: str, claim_url: str = "") -> list[dict]:
    # The prior Claim is an entry of this bundle when we have its URL; the one
    # before it is named by identifier only (the IG: it SHALL NOT be included).
    claim_ref: dict = {"identifier": {"system": SUBMISSION_SYSTEM, "value": prior_key}}
    if claim_url:
        claim_ref = {"reference": claim_url, **claim_ref}
    return [
        {
            "claim": claim_ref,
            "relationship": {"coding": [{"system": RELATED_CLAIM_RELATIONSHIP, "code": "prior"}]},
        }
    ]


def _changed(info: dict, mode: str) -> dict:
    info.setdefault("extension", []).append({"url": INFO_CHANGED, "valueCode": mode})
    return info


def _cancelled(info: dict) -> dict:
    info["modifierExtension"] = [{"url": INFO_CANCELLED, "valueBoolean": True}]
    return info


class _Supporting:
    """supportingInfo entries; each document becomes one DocumentReference however many Claims cite it."""

    def __init__(self, b: _Builder, urls: dict):
        self.b, self.urls = b, urls
        self.documents: dict[int, str] = {}

    def text(self, kind: str, text: str) -> dict:
        # The medical-necessity summary is "additional information"; staff's answer to a
        # pended request is a free-form message to the payer.
        code = "additionalInformation" if kind == "summary" else "freeFormMessage"
        return {
            "category": {"coding": [{"system": SUPPORTING_INFO_TYPE, "code": code}]},
            "valueString": text[:10000],
        }

    def document(self, document, *, embed: bool = True, pk: int | None = None, title: str = "") -> dict:
        pk = document.pk if document is not None else pk
        if pk not in self.documents:
            if document is not None:
                attachment = _attachment(document) if embed else _attachment_metadata(document)
            else:  # sent before, no longer on the case: named by its title only
                attachment = {"title": title[:200] or "Document"}
            doc = {
                "resourceType": "DocumentReference",
                "identifier": [{"system": DOCUMENT_SYSTEM, "value": str(pk)}],
                "status": "current",
                "subject": _ref(self.urls["patient"]),
                "description": (document.title if document is not None else title or "Document")[:200],
                "content": [{"attachment": attachment}],
            }
            self.documents[pk] = self.b.add(doc)
        return {
            "category": {"coding": [{"system": SUPPORTING_INFO_TYPE, "code": "freeFormMessage"}]},
            "valueReference": _ref(self.documents[pk]),
        }

    def as_sent(self, entry: dict, documents: dict) -> dict:
        """One entry of a prior request as it was sent (texts as stored, documents by reference)."""
        if entry.get("kind") == "document":
            doc = documents.get(entry.get("document"))
            info = self.document(doc, embed=False, pk=entry.get("document"), title=entry.get("title", ""))
        else:
            info = self.text(entry.get("kind", ""), entry.get("text", ""))
        if entry.get("cancelled"):
            _cancelled(info)
        info["sequence"] = entry["seq"]
        return info


def _initial_supporting(case: PriorAuthCase, sup: _Supporting, message: str) -> list[dict]:
    supporting = []
    if case.summary_text:
        supporting.append(sup.text("summary", case.summary_text))
    for document in case.documents.all():
        supporting.append(sup.document(document))
    if message:
        supporting.append(sup.text("message", message))
    for i, info in enumerate(supporting, start=1):
        info["sequence"] = i
    return supporting


def _updated_supporting(
    case: PriorAuthCase, sup: _Supporting, prior: PriorClaim, documents: dict, message: str
) -> list[dict]:
    """Every entry the prior request carried (same sequence), then what is new, flagged per the IG."""
    supporting = []
    sent_documents = set()
    had_summary = False
    for entry in sorted(prior.supporting, key=lambda e: e["seq"]):
        kind = entry.get("kind")
        if kind == "document":
            sent_documents.add(entry.get("document"))
        info = sup.as_sent(entry, documents)
        if entry.get("cancelled"):
            supporting.append(info)  # withdrawn earlier: stays withdrawn, not a change now
            continue
        if kind == "summary":
            had_summary = True
            current = case.summary_text[:10000]
            if not current:
                _changed(_cancelled(info), "changed")
            elif current != entry.get("text"):
                info["valueString"] = current
                _changed(info, "changed")
        elif kind == "document" and entry.get("document") not in documents:
            _changed(_cancelled(info), "changed")
        supporting.append(info)
    sequence = max((e["seq"] for e in prior.supporting), default=0)
    added = []
    if case.summary_text and not had_summary:
        added.append(sup.text("summary", case.summary_text))
    new_documents = sorted(
        (d for pk, d in documents.items() if pk not in sent_documents), key=lambda d: (d.created_at, d.pk)
    )
    added += [sup.document(d) for d in new_documents]
    if message:
        added.append(sup.text("message", message))
    for info in added:
        sequence += 1
        info["sequence"] = sequence
        supporting.append(_changed(info, "added"))
    return supporting


def _prior_claim(case: PriorAuthCase, prior: PriorClaim, urls: dict, sup: _Supporting, documents: dict) -> dict:
    """The prior version of the request, as an entry of the update bundle (the IG requires it)."""
    claim = _full_claim(case, prior.key, urls, update=prior.was_update)
    if prior.created:
        claim["created"] = prior.created.isoformat(timespec="seconds")
    if prior.was_update and prior.replaces_key:
        claim["related"] = _related(prior.replaces_key)
    infos = [sup.as_sent(e, documents) for e in sorted(prior.supporting, key=lambda e: e["seq"])]
    if infos:
        claim["supportingInfo"] = infos
    return claim


def _request_bundle(submission_key: str, entries: list[dict]) -> dict:
    return {
        "resourceType": "Bundle",
        "meta": {"profile": [PAS_SD + "profile-pas-request-bundle"]},
        "identifier": {"system": SUBMISSION_SYSTEM, "value": submission_key},
        "type": "collection",
        "timestamp": timezone.now().isoformat(timespec="seconds"),
        "entry": entries,
    }


def _place_first(b: _Builder, claim: dict) -> None:
    claim_url = b.entries[0]["fullUrl"]
    claim["id"] = claim_url.rsplit(":", 1)[1]
    b.entries[0] = {"fullUrl": claim_url, "resource": claim}


def build_request_bundle(
    case: PriorAuthCase, *, submission_key: str, prior: PriorClaim | None = None, message: str = ""
) -> dict:
    """The $submit Bundle: Claim first, then Patient, payer and practice, Coverage,
    Practitioner, the order, and the packet (summary and documents).

    With `prior` it is a PAS Claim Update answering a pended request: a new
    identifier, `Claim.related` → the prior Claim (included in the bundle),
    every supportingInfo entry the prior carried under its old sequence, and
    what was added since (documents, a changed summary, staff's `message`)
    flagged `infoChanged`. The items are unchanged, so they carry no flag.
    Documents the payer already has are referenced without their bytes.
    """
    b = _Builder()
    b.entries.append({"fullUrl": _urn()})  # the Claim's place, filled last
    urls = _parties(b, case)
    _order_entries(b, case, urls)
    sup = _Supporting(b, urls)
    claim = _full_claim(case, submission_key, urls, update=prior is not None)
    if prior is None:
        supporting = _initial_supporting(case, sup, message)
    else:
        documents = {d.pk: d for d in case.documents.all()}
        supporting = _updated_supporting(case, sup, prior, documents, message)
        claim["related"] = _related(prior.key, b.add(_prior_claim(case, prior, urls, sup, documents)))
    if supporting:
        claim["supportingInfo"] = supporting
    _place_first(b, claim)
    return _request_bundle(submission_key, b.entries)


def build_cancel_bundle(case: PriorAuthCase, *, cancel_key: str, prior: PriorClaim) -> dict:
    """A PAS Claim Update that withdraws the whole request sent as `prior`.

    Certification type 3 (Cancel) on the Claim, and on each item too, which
    also carries the infoCancelled modifier and infoChanged = changed (the IG's
    rule for a withdrawn item). No supportingInfo: nothing is left to review.
    `cancel_key` is the cancellation's own identifier, so a retry is the same
    request to the payer.
    """
    b = _Builder()
    b.entries.append({"fullUrl": _urn()})
    urls = _parties(b, case)
    _order_entries(b, case, urls)
    sup = _Supporting(b, urls)
    cancel = {"coding": [{"system": X12_CERTIFICATION_TYPE, "code": CERTIFICATION_CANCEL, "display": "Cancel"}]}
    claim = _full_claim(case, cancel_key, urls, update=True)
    claim["extension"] = [{"url": CERTIFICATION_TYPE, "valueCodeableConcept": cancel}]
    for item in claim["item"]:
        item["extension"].append({"url": CERTIFICATION_TYPE, "valueCodeableConcept": cancel})
        _changed(_cancelled(item), "changed")
    documents = {d.pk: d for d in case.documents.all()}
    claim["related"] = _related(prior.key, b.add(_prior_claim(case, prior, urls, sup, documents)))
    _place_first(b, claim)
    return _request_bundle(cancel_key, b.entries)


def sent_supporting(bundle: dict) -> list[dict]:
    """What the first Claim of a request bundle carried as supportingInfo, for the next update:
    [{"seq", "kind": summary | message | document, "text" or "document" and "title", "cancelled"?}]."""
    entries = bundle.get("entry") or []
    claim = (entries[0] if entries else {}).get("resource") or {}
    by_url = {e.get("fullUrl"): e.get("resource") or {} for e in entries}
    sent = []
    for info in claim.get("supportingInfo") or []:
        code = ((info.get("category") or {}).get("coding") or [{}])[0].get("code", "")
        entry: dict = {"seq": info.get("sequence")}
        if "valueString" in info:
            entry |= {"kind": "summary" if code == "additionalInformation" else "message", "text": info["valueString"]}
        else:
            doc = by_url.get((info.get("valueReference") or {}).get("reference"), {})
            ident = next((i for i in doc.get("identifier") or [] if i.get("system") == DOCUMENT_SYSTEM), {})
            if not ident.get("value", "").isdigit():
                continue
            entry |= {"kind": "document", "document": int(ident["value"]), "title": doc.get("description", "")}
        if any(m.get("url") == INFO_CANCELLED and m.get("valueBoolean") for m in info.get("modifierExtension") or []):
            entry["cancelled"] = True
        sent.append(entry)
    return sent


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


def _attachment_metadata(document) -> dict:
    """A document the payer already has: what it is, without its bytes again."""
    attachment = {"title": document.title[:200], "contentType": document.content_type or "application/octet-stream"}
    if document.ehr_reference:
        attachment["url"] = document.ehr_reference
    elif document.size_bytes:
        attachment["size"] = document.size_bytes
    return attachment


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
