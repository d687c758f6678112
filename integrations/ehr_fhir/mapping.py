"""FHIR R4 JSON → plain values the `cases` app understands. Pure functions."""

from __future__ import annotations

from datetime import date, datetime

from cases.models import Order
from payers.models import CodeSystem

CPT = "http://www.ama-assn.org/go/cpt"
HCPCS = (
    "https://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets",
    "http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets",
)
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
NDC = "http://hl7.org/fhir/sid/ndc"
LOINC = "http://loinc.org"
ICD10 = ("http://hl7.org/fhir/sid/icd-10-cm", "http://hl7.org/fhir/sid/icd-10")
NPI = "http://hl7.org/fhir/sid/us-npi"
MR_TYPE = "http://terminology.hl7.org/CodeSystem/v2-0203"

ORDER_SYSTEMS = [
    (CPT, CodeSystem.CPT),
    *((s, CodeSystem.HCPCS) for s in HCPCS),
    (RXNORM, CodeSystem.RXNORM),
    (NDC, CodeSystem.NDC),
]

KIND_BY_RESOURCE = {
    "ServiceRequest": Order.Kind.SERVICE,
    "MedicationRequest": Order.Kind.MEDICATION,
    "DeviceRequest": Order.Kind.DEVICE,
}

# FHIR request priority (routine | urgent | asap | stat) → our three levels.
# `stat` is FHIR's "highest priority, e.g. an emergency": the order is kept out
# of automation and flagged for retro-authorization. `asap` and `urgent` both
# ask the payer for an expedited (72 h) decision; anything else is routine.
PRIORITY = {
    "routine": Order.Priority.ROUTINE,
    "urgent": Order.Priority.URGENT,
    "asap": Order.Priority.URGENT,
    "stat": Order.Priority.EMERGENCY,
}

ACTIVE_ORDER_STATUSES = {"active", "draft", "on-hold"}
ORDER_INTENTS = {"order", "original-order", "reflex-order", "filler-order", "instance-order"}


class MappingError(ValueError):
    """An order the EHR sent that we cannot turn into a case (reason has no PHI)."""


def codings(concept: dict | None) -> list[dict]:
    return list((concept or {}).get("coding") or [])


def order_code(resource: dict) -> tuple[str, str, str]:
    """(code system, code, display) of an order, preferring billing codes."""
    concept = (
        resource.get("code") or resource.get("medicationCodeableConcept") or resource.get("codeCodeableConcept") or {}
    )
    found = codings(concept)
    for system_url, system in ORDER_SYSTEMS:
        for c in found:
            if c.get("system") == system_url and c.get("code"):
                return system, c["code"].strip(), c.get("display") or concept.get("text") or ""
    raise MappingError("no CPT, HCPCS, RxNorm or NDC code on the order")


def reference_id(ref: dict | None, resource_type: str) -> str:
    value = (ref or {}).get("reference") or ""
    if value.startswith(f"{resource_type}/"):
        return value.split("/", 1)[1].split("/")[0]
    if "/" + resource_type + "/" in value:  # absolute URL
        return value.split(f"/{resource_type}/", 1)[1].split("/")[0]
    return ""


def parse_date(value: str | None) -> date | None:
    """The calendar date of a FHIR date/dateTime/instant (its own offset's day)."""
    if not value:
        return None
    try:
        if len(value) == 4:
            return date(int(value), 1, 1)
        if len(value) == 7:
            return date(int(value[:4]), int(value[5:7]), 1)
        if len(value) == 10:
            return date.fromisoformat(value)
        return datetime.fromisoformat(value.replace("Z", "+00:00")).date()
    except ValueError:
        return None


def parse_instant(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def period_of(resource: dict, *names: str) -> tuple[date | None, date | None]:
    """(start, end) from the first of `names` present: a dateTime or a Period."""
    for name in names:
        if resource.get(f"{name}DateTime"):
            d = parse_date(resource[f"{name}DateTime"])
            return d, d
        if resource.get(f"{name}Period"):
            p = resource[f"{name}Period"]
            return parse_date(p.get("start")), parse_date(p.get("end"))
        if isinstance(resource.get(name), str):
            d = parse_date(resource[name])
            return d, d
        if isinstance(resource.get(name), dict):
            p = resource[name]
            return parse_date(p.get("start")), parse_date(p.get("end"))
    return None, None


def order_fields(resource: dict) -> dict:
    """Order fields from a ServiceRequest, MedicationRequest or DeviceRequest."""
    kind = KIND_BY_RESOURCE.get(resource.get("resourceType"))
    if kind is None:
        raise MappingError(f"unsupported order type {resource.get('resourceType')}")
    system, code, display = order_code(resource)
    start, _ = period_of(resource, "occurrence")
    if start is None and kind == Order.Kind.MEDICATION:
        validity = (resource.get("dispenseRequest") or {}).get("validityPeriod") or {}
        start = parse_date(validity.get("start"))
    quantity = (resource.get("quantityQuantity") or {}).get("value")
    if quantity is None and kind == Order.Kind.MEDICATION:
        quantity = ((resource.get("dispenseRequest") or {}).get("quantity") or {}).get("value")
    diagnoses = []
    for concept in resource.get("reasonCode") or []:
        for c in codings(concept):
            if c.get("system") in ICD10 and c.get("code") and c["code"] not in diagnoses:
                diagnoses.append(c["code"].upper())
    return {
        "kind": kind,
        "code_system": system,
        "code": code,
        "description": (display or f"{system} {code}")[:200],
        "quantity": quantity if quantity is not None else 1,
        "priority": PRIORITY.get((resource.get("priority") or "routine").lower(), Order.Priority.ROUTINE),
        "requested_date": start,
        "diagnosis_codes": diagnoses,
    }


SUBSCRIBER_RELATIONSHIP = "http://terminology.hl7.org/CodeSystem/subscriber-relationship"


def patient_fields(resource: dict) -> dict:
    names = resource.get("name") or []
    name = next((n for n in names if n.get("use") == "official"), names[0] if names else {})
    mrn = ""
    for ident in resource.get("identifier") or []:
        if any(c.get("code") == "MR" for c in codings(ident.get("type"))) and ident.get("value"):
            mrn = ident["value"]
            break
    birth = parse_date(resource.get("birthDate"))
    if birth is None:
        raise MappingError("Patient has no birth date")
    mobile = ""
    for telecom in resource.get("telecom") or []:
        if telecom.get("system") == "phone" and telecom.get("use") == "mobile":
            mobile = telecom.get("value", "")
    addresses = [a for a in resource.get("address") or [] if isinstance(a, dict)]
    address = next((a for a in addresses if a.get("use") == "home"), addresses[0] if addresses else {})
    address = {k: address[k] for k in ("line", "city", "district", "state", "postalCode", "country") if address.get(k)}
    identifiers = []
    for ident in resource.get("identifier") or []:
        if isinstance(ident, dict) and ident.get("system") and ident.get("value"):
            code = next((c.get("code") for c in codings(ident.get("type")) if c.get("code")), "")
            identifiers.append({"system": ident["system"][:200], "value": str(ident["value"])[:64], "type": code})
    gender = resource.get("gender")
    return {
        "gender": gender if gender in ("male", "female", "other", "unknown") else "",
        "address": address,
        "identifiers": identifiers[:10],
        "first_name": (" ".join(name.get("given") or []) or "?")[:60],
        "last_name": (name.get("family") or "?")[:60],
        "birth_date": birth,
        "mrn": (mrn or f"EHR-{resource['id']}")[:40],
        "mobile_phone": mobile[:20] if mobile.startswith("+") else "",
    }


def coverage_fields(resource: dict) -> dict:
    start, end = period_of(resource, "period")
    plan_name, group = "", ""
    for cls in resource.get("class") or []:
        code = next((c.get("code") for c in codings(cls.get("type"))), "")
        if code == "plan":
            plan_name = cls.get("name") or cls.get("value") or ""
        elif code == "group":
            group = cls.get("value") or ""
    payors = resource.get("payor") or []
    relationship = next(
        (c.get("code") for c in codings(resource.get("relationship")) if c.get("system") == SUBSCRIBER_RELATIONSHIP), ""
    )
    return {
        "relationship": (relationship or "")[:16],
        "subscriber_name": ((resource.get("subscriber") or {}).get("display") or "")[:120],
        "status": resource.get("status", ""),
        "start": start,
        "end": end,
        "member_id": (resource.get("subscriberId") or resource.get("id"))[:40],
        "group_number": group[:40],
        "plan_name": plan_name,
        "payor_display": (payors[0].get("display") if payors else "") or "",
        "payor_org_id": reference_id(payors[0], "Organization") if payors else "",
    }


def icd10_codes(concept: dict | None) -> list[str]:
    return [c["code"].upper() for c in codings(concept) if c.get("system") in ICD10 and c.get("code")]


def quantity_text(resource: dict) -> str:
    q = resource.get("valueQuantity")
    if q:
        return f"{q.get('value')} {q.get('unit') or q.get('code') or ''}".strip()
    if resource.get("valueString"):
        return resource["valueString"][:80]
    if resource.get("valueCodeableConcept"):
        c = resource["valueCodeableConcept"]
        return (c.get("text") or next((x.get("display") for x in codings(c)), "") or "")[:80]
    return ""
