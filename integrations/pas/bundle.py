"""The PAS request Bundle for a case: Claim (use = preauthorization) first, then
everything it references, each with a `urn:uuid:` fullUrl so every reference
resolves inside the bundle.

Minimum necessary: the patient's name, birth date and MRN (the payer matches the
member with them), the coverage, the order, its diagnoses and the packet the
staff assembled — nothing else from the chart.
"""

from __future__ import annotations

import base64
import hashlib
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
TAX_ID = "http://terminology.hl7.org/NamingSystem/USEIN"  # US EIN / TIN: the PASOrganization TIN slice
ICD10 = "http://hl7.org/fhir/sid/icd-10-cm"
CODE_SYSTEMS = {
    "CPT": "http://www.ama-assn.org/go/cpt",
    "HCPCS": "http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets",  # as X12278RequestedServiceType names it
    "NDC": "http://hl7.org/fhir/sid/ndc",
    "RxNorm": "http://www.nlm.nih.gov/research/umls/rxnorm",
}
# PASSupportingInfoType's codes live in the IG's PASTempCodes code system (Terminology.fsh).
SUPPORTING_INFO_TYPE = "http://hl7.org/fhir/us/davinci-pas/CodeSystem/PASTempCodes"
DOCUMENT_INFORMATION = PAS_SD + "extension-documentInformation"
CARE_TEAM_SCOPE = PAS_SD + "extension-careTeamClaimScope"
REQUEST_TYPE = PAS_SD + "extension-serviceItemRequestType"
LEVEL_OF_SERVICE = PAS_SD + "extension-levelOfServiceCode"
X12 = "https://codesystem.x12.org/005010/"
POS = "https://www.cms.gov/Medicare/Coding/place-of-service-codes/Place_of_Service_Code_Set"
V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"
SUBSCRIBER_RELATIONSHIP = "http://terminology.hl7.org/CodeSystem/subscriber-relationship"
# subscriber-relationship -> X12 1069 individual relationship code (sent beside the FHIR code).
X12_RELATIONSHIP = {"self": "18", "spouse": "01", "child": "19", "other": "G8"}
SUMMARY_SYSTEM = "urn:priorauth:summary"
# X12 755 report type for what we attach (PWK01), by document kind; the summary is "03"
# (report justifying treatment beyond utilization guidelines).
REPORT_TYPE = {"clinical_note": "09", "lab": "LA", "imaging": "RR", "letter": "03", "form": "OZ"}
EMBED_MAX_BYTES = 5 * 1024 * 1024  # default per-payer budget (Payer.pas_max_document_bytes)


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


def _x12(code_list: str, code: str, display: str) -> dict:
    return {"coding": [{"system": X12 + code_list, "code": code, "display": display}]}


def _code(system_name: str, code: str, display: str = "") -> dict:
    coding = {"system": CODE_SYSTEMS.get(system_name, system_name), "code": code}
    if display:
        coding["display"] = display[:200]
    return {"coding": [coding], **({"text": display[:200]} if display else {})}


def _patient(case: PriorAuthCase, coverage) -> dict:
    """PAS Beneficiary: name, birth date, gender, address and identifiers as the chart has them.

    Gender and address come from the EHR Patient (`Patient.gender`, `.address`);
    when the chart did not give them they are left out, never guessed. The member
    id (type MB) is the coverage's subscriber id.
    """
    patient = case.patient
    mrn_system = f"urn:priorauth:practice:{case.practice_id}:mrn"
    identifiers = [
        {"type": {"coding": [{"system": V2_0203, "code": "MR"}]}, "system": mrn_system, "value": patient.mrn}
    ]
    for ident in patient.identifiers or []:
        if ident.get("value") == patient.mrn and ident.get("type") == "MR":
            identifiers[0]["system"] = ident["system"]  # the EHR's own MRN system
            continue
        entry = {"system": ident["system"], "value": ident["value"]}
        if ident.get("type"):
            entry["type"] = {"coding": [{"system": V2_0203, "code": ident["type"]}]}
        identifiers.append(entry)
    if coverage is not None and coverage.member_id:
        identifiers.append(
            {
                "type": {"coding": [{"system": V2_0203, "code": "MB"}]},
                "system": f"urn:priorauth:payer:{case.payer_id}:member-id",
                "value": coverage.member_id,
            }
        )
    resource = {
        "resourceType": "Patient",
        "meta": {"profile": [PAS_SD + "profile-beneficiary"]},
        "identifier": identifiers,
        "name": [{"family": patient.last_name, "given": [patient.first_name]}],
        "birthDate": patient.birth_date.isoformat(),
    }
    if patient.gender:
        resource["gender"] = patient.gender
    if patient.address:
        resource["address"] = [{"use": "home", **patient.address}]
    return resource


def _parties(b: _Builder, case: PriorAuthCase) -> dict:
    """Patient, payer and practice organizations, coverage: what both $submit and $inquire need."""
    practice = case.practice
    payer = case.payer
    urls = {}
    coverage = case.order.coverage or case.patient.coverages.filter(payer=payer).first()
    urls["patient"] = b.add(_patient(case, coverage))
    insurer = {
        "resourceType": "Organization",
        "meta": {"profile": [PAS_SD + "profile-insurer"]},
        "active": True,
        "type": [{"coding": [{"system": X12 + "98", "code": "PR", "display": "Payer"}]}],
        "name": payer.name,
    }
    if payer.payer_id:  # the PASOrganization PI slice
        insurer["identifier"] = [
            {
                "type": {
                    "coding": [
                        {"system": "http://hl7.org/fhir/us/carin-bb/CodeSystem/C4BBIdentifierType", "code": "payerid"}
                    ]
                },
                "system": "urn:priorauth:payer-id",
                "value": payer.payer_id,
            }
        ]
    urls["insurer"] = b.add(insurer)
    provider = {
        "resourceType": "Organization",
        "meta": {"profile": [PAS_SD + "profile-requestor"]},
        "active": True,
        "type": [{"coding": [{"system": X12 + "98", "code": "X3", "display": "Utilization Management Organization"}]}],
        "name": practice.name,
    }
    idents = []
    if practice.npi:
        idents.append({"system": NPI, "value": practice.npi})
    if practice.tax_id:  # what a PAS subscription filters on without an NPI (org-identifier)
        idents.append({"system": TAX_ID, "value": practice.tax_id})
    if idents:
        provider["identifier"] = idents
    urls["provider"] = b.add(provider)
    cov = {
        "resourceType": "Coverage",
        "meta": {"profile": [PAS_SD + "profile-coverage"]},
        "status": "active",
        "beneficiary": _ref(urls["patient"]),
        "payor": [_ref(urls["insurer"])],
    }
    if coverage is not None:
        cov["identifier"] = [
            {
                "type": {"coding": [{"system": V2_0203, "code": "MB"}]},
                "system": f"urn:priorauth:payer:{payer.pk}:member-id",
                "value": coverage.member_id,
            }
        ]
        cov["subscriberId"] = coverage.member_id
        relationship = coverage.relationship or ""
        if relationship:
            codings = [{"system": SUBSCRIBER_RELATIONSHIP, "code": relationship}]
            if relationship in X12_RELATIONSHIP:
                codings.append({"system": X12 + "1069", "code": X12_RELATIONSHIP[relationship]})
            cov["relationship"] = {"coding": codings}
        if relationship and relationship != "self" and coverage.subscriber_name:
            cov["subscriber"] = {"display": coverage.subscriber_name}  # the chart names them; no resource of theirs
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
    claim = {
        "resourceType": "Claim",
        "meta": {"profile": [CLAIM_PROFILE]},
        "identifier": [{"system": SUBMISSION_SYSTEM, "value": submission_key}],
        "status": "active",
        "type": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/claim-type",
                    # Drugs reach PAS only as medical-benefit (buy-and-bill) items, billed professionally;
                    # pharmacy-benefit drugs go to the ePA channel (payers.rules).
                    "code": "professional",
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
                "extension": [
                    # UM01 request type HS (health services review), UM02 certification type I (initial).
                    {"url": REQUEST_TYPE, "valueCodeableConcept": _x12("1525", "HS", "Health Services Review")},
                    {"url": CERTIFICATION_TYPE, "valueCodeableConcept": _x12("1322", "I", "Initial")},
                ],
                "sequence": 1,
                "careTeamSequence": [1],
                # X12 1365 service type: DME for devices, else medical care.
                "category": _x12("1365", "12", "Durable Medical Equipment Purchase")
                if order.kind == Order.Kind.DEVICE
                else _x12("1365", "1", "Medical Care"),
                "productOrService": _code(order.code_system, order.code, order.description),
                "servicedDate": order.service_date.isoformat(),
                "locationCodeableConcept": {"coding": [{"system": POS, "code": order.site_of_service or "11"}]},
                "quantity": {"value": float(order.quantity), "unit": order.units},
            }
        ],
    }
    if case.urgency == Urgency.EXPEDITED:  # UM06 level of service U (urgent)
        claim["extension"] = [{"url": LEVEL_OF_SERVICE, "valueCodeableConcept": _x12("1338", "U", "Urgent")}]
    return claim


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
        "meta": {"profile": [PAS_SD + "profile-practitioner"]},
        "identifier": [{"system": NPI, "value": provider.npi}],
        "name": [{"family": provider.last_name, "given": [provider.first_name]}],
    }
    urls["practitioner"] = b.add(practitioner)
    # PAS care team members are PractitionerRoles (PASClaimBase careTeam.provider).
    urls["practitioner_role"] = b.add(
        {
            "resourceType": "PractitionerRole",
            "meta": {"profile": [PAS_SD + "profile-practitionerrole"]},
            "practitioner": _ref(urls["practitioner"]),
            "organization": _ref(urls["provider"]),
        }
    )
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
    claim["item"][0]["extension"].append(
        {"url": PAS_SD + "extension-requestedService", "valueReference": _ref(urls["request"])}
    )
    if case.order.diagnosis_codes:
        claim["item"][0]["diagnosisSequence"] = [1]
    claim["careTeam"] = [
        {
            "extension": [{"url": CARE_TEAM_SCOPE, "valueBoolean": True}],
            "sequence": 1,
            "provider": _ref(urls["practitioner_role"]),
        }
    ]
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


@dataclass(frozen=True)
class NotSent:
    """A document of the case that did not go with the request, and why (the case names it)."""

    document_id: int
    title: str
    reason: str


def _document_information(report_type: str, description: str, control: str = "") -> dict:
    # PAS documentInformation (PWK): report type (X12 755), sent electronically (756 EL).
    parts = [
        {"url": "reportTypeCode", "valueCodeableConcept": {"coding": [{"system": X12 + "755", "code": report_type}]}},
        {"url": "transmissionMethod", "valueCodeableConcept": {"coding": [{"system": X12 + "756", "code": "EL"}]}},
    ]
    if control:
        parts.append({"url": "controlNumber", "valueString": control})
    parts.append({"url": "description", "valueString": description[:80]})
    return {"url": DOCUMENT_INFORMATION, "extension": parts}


class _Supporting:
    """supportingInfo entries; each document becomes one DocumentReference however many Claims cite it.

    Documents and the summary go as PAS `additionalInformation` (a PASDocumentReference
    with its content inline, as the profile requires: `attachment.data`, no `url`);
    staff's message as `freeFormMessage` text. New documents are embedded while the
    payer's byte budget lasts; one without content, or past the budget, is left out
    and listed in `not_sent` for the case to name (send it by fax or portal).
    """

    def __init__(self, b: _Builder, urls: dict, budget: int | None = None):
        self.b, self.urls = b, urls
        self.documents: dict[int, str] = {}
        self.remaining = EMBED_MAX_BYTES if budget is None else budget
        self.not_sent: list[NotSent] = []

    def _doc_reference(self, identifier: dict, description: str, attachment: dict) -> str:
        return self.b.add(
            {
                "resourceType": "DocumentReference",
                "meta": {"profile": [PAS_SD + "profile-documentreference"]},
                "identifier": [identifier],
                "status": "current",
                "type": {"coding": [{"system": "http://loinc.org", "code": "34109-9", "display": "Note"}]},
                "category": [
                    {
                        "coding": [
                            {
                                "system": "http://hl7.org/fhir/us/core/CodeSystem/us-core-documentreference-category",
                                "code": "clinical-note",
                            }
                        ]
                    }
                ],
                "subject": _ref(self.urls["patient"]),
                "description": description[:200],
                "content": [{"attachment": attachment}],
            }
        )

    def text(self, kind: str, text: str) -> dict:
        if kind != "summary":  # staff's answer to a pended request: a free-form message to the payer
            return {
                "category": {"coding": [{"system": SUPPORTING_INFO_TYPE, "code": "freeFormMessage"}]},
                "valueString": text[:10000],
            }
        # The medical-necessity summary: a text/plain document (the IG's additionalInformation
        # takes a reference only).
        text = text[:10000]
        url = self._doc_reference(
            {"system": SUMMARY_SYSTEM, "value": hashlib.sha256(text.encode()).hexdigest()[:16]},
            "Medical necessity summary",
            {
                "contentType": "text/plain; charset=utf-8",
                "title": "Medical necessity summary",
                "data": base64.b64encode(text.encode()).decode(),
            },
        )
        return {
            "extension": [_document_information("03", "Medical necessity summary")],
            "category": {"coding": [{"system": SUPPORTING_INFO_TYPE, "code": "additionalInformation"}]},
            "valueReference": _ref(url),
        }

    def document(self, document, *, embed: bool = True, pk: int | None = None, title: str = "") -> dict | None:
        pk = document.pk if document is not None else pk
        if pk not in self.documents:
            if document is not None and embed:
                reason = self._why_not(document)
                if reason:
                    self.not_sent.append(NotSent(document.pk, document.title[:200], reason))
                    return None
                attachment = _attachment(document)
                self.remaining -= document.size_bytes
            elif document is not None:  # the payer has it from an earlier request: not its bytes again
                attachment = _attachment_metadata(document)
            else:  # sent before, no longer on the case: named by its title only
                attachment = {"title": title[:200] or "Document"}
            self.documents[pk] = self._doc_reference(
                {"system": DOCUMENT_SYSTEM, "value": str(pk)},
                document.title if document is not None else title or "Document",
                attachment,
            )
        kind = getattr(document, "kind", "")
        return {
            "extension": [
                _document_information(
                    REPORT_TYPE.get(kind, "OZ"), (document.title if document else title) or "Document", str(pk)
                )
            ],
            "category": {"coding": [{"system": SUPPORTING_INFO_TYPE, "code": "additionalInformation"}]},
            "valueReference": _ref(self.documents[pk]),
        }

    def _why_not(self, document) -> str:
        if not document.file or not document.size_bytes:
            return "its content is not here (the EHR note could not be fetched)"
        if document.size_bytes > self.remaining:
            return f"over the payer's size budget ({document.size_bytes:,} bytes; {max(self.remaining, 0):,} left)"
        return ""

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
        info = sup.document(document)
        if info is not None:
            supporting.append(info)
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
                # Same sequence, the new text as its own document, flagged changed.
                info = {**sup.text("summary", current), "sequence": entry["seq"]}
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
    added += [info for info in (sup.document(d) for d in new_documents) if info is not None]
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
    case: PriorAuthCase,
    *,
    submission_key: str,
    prior: PriorClaim | None = None,
    message: str = "",
    budget: int | None = None,
    not_sent: list | None = None,
) -> dict:
    """The $submit Bundle: Claim first, then Patient, payer and practice, Coverage,
    Practitioner, the order, and the packet (summary and documents).

    With `prior` it is a PAS Claim Update answering a pended request: a new
    identifier, `Claim.related` → the prior Claim (included in the bundle),
    every supportingInfo entry the prior carried under its old sequence, and
    what was added since (documents, a changed summary, staff's `message`)
    flagged `infoChanged`. The items are unchanged, so they carry no flag.
    Documents the payer already has are referenced without their bytes.
    New documents are embedded within `budget` bytes (the payer's; default 5 MB);
    those left out are appended to `not_sent` for the case to name.
    """
    b = _Builder()
    b.entries.append({"fullUrl": _urn()})  # the Claim's place, filled last
    urls = _parties(b, case)
    _order_entries(b, case, urls)
    sup = _Supporting(b, urls, budget)
    claim = _full_claim(case, submission_key, urls, update=prior is not None)
    if prior is None:
        supporting = _initial_supporting(case, sup, message)
    else:
        documents = {d.pk: d for d in case.documents.all()}
        supporting = _updated_supporting(case, sup, prior, documents, message)
        claim["related"] = _related(prior.key, b.add(_prior_claim(case, prior, urls, sup, documents)))
    if supporting:
        claim["supportingInfo"] = supporting
    if not_sent is not None:
        not_sent.extend(sup.not_sent)
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
    claim.setdefault("extension", []).append({"url": CERTIFICATION_TYPE, "valueCodeableConcept": cancel})
    for item in claim["item"]:
        item["extension"] = [e for e in item["extension"] if e["url"] != CERTIFICATION_TYPE]
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
            if any(i.get("system") == SUMMARY_SYSTEM for i in doc.get("identifier") or []):
                data = ((doc.get("content") or [{}])[0].get("attachment") or {}).get("data", "")
                entry |= {"kind": "summary", "text": base64.b64decode(data).decode() if data else ""}
                if any(
                    m.get("url") == INFO_CANCELLED and m.get("valueBoolean")
                    for m in info.get("modifierExtension") or []
                ):
                    entry["cancelled"] = True
                sent.append(entry)
                continue
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
    # No `url`: an EHR-local "DocumentReference/<id>" means nothing to the payer.
    attachment = {"title": document.title[:200], "contentType": document.content_type or "application/octet-stream"}
    if document.size_bytes:
        attachment["size"] = document.size_bytes
    return attachment


def _attachment(document) -> dict:
    attachment = {"title": document.title[:200], "contentType": document.content_type or "application/octet-stream"}
    # PASDocumentReference: the content inline (`data` 1..1, `url` 0..0); callers check size first.
    with document.file.open("rb") as fh:
        attachment["data"] = base64.b64encode(fh.read()).decode()
    return attachment


def claim_identifier(bundle: dict) -> str:
    """Our submission key from a request or inquiry bundle (used by the sandbox and peers)."""
    claim = ((bundle.get("entry") or [{}])[0] or {}).get("resource") or {}
    for ident in claim.get("identifier") or []:
        if ident.get("system") == SUBMISSION_SYSTEM:
            return ident.get("value", "")
    return ""
