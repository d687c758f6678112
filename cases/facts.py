"""What the case page shows a coordinator to type into a payer's portal or read on the phone.

Read-only and from rows already loaded for the page (the order's coverage comes with the case): no EHR call.
A value the chart does not have is shown as missing, never guessed.
"""

from __future__ import annotations

from dataclasses import dataclass

from payers.codes import PLACE_OF_SERVICE, icd10_description

# FHIR evidence resource types, as staff call them (requirement evidence lines on the case page).
RESOURCE_WORDS = {
    "Observation": "Lab result / score",
    "Procedure": "Procedure",
    "MedicationRequest": "Medication order",
    "MedicationStatement": "Medication history",
    "DocumentReference": "Clinical note",
    "DiagnosticReport": "Diagnostic report",
    "Encounter": "Visit",
    "Condition": "Diagnosis",
    "Coverage": "Coverage",
    "ServiceRequest": "Order",
    "QuestionnaireResponse": "Questionnaire answers",
    "Document": "Uploaded document",
}


@dataclass(frozen=True)
class Fact:
    key: str
    label: str
    value: str
    missing: str = "not on file"
    note: str = ""


def case_coverage(case):
    """The coverage the order names, else the patient's coverage with the case's payer active on the service date."""
    if case.order.coverage_id:
        return case.order.coverage
    day = case.order.service_date
    for coverage in case.patient.coverages.filter(payer_id=case.payer_id).order_by("-start"):
        if coverage.is_active_on(day):
            return coverage
    return None


def us_phone(e164: str) -> str:
    """'+13125550175' -> '312-555-0175' (as a portal field or a person on the phone takes it); others as stored."""
    if len(e164) == 12 and e164.startswith("+1") and e164[1:].isdigit():
        return f"{e164[2:5]}-{e164[5:8]}-{e164[8:]}"
    return e164


def case_reference_facts(case) -> list[Fact]:
    """The copyable values: each is exactly what goes into the field (a code without its words, a US date)."""
    coverage = case_coverage(case)
    provider = case.order.ordering_provider
    site = case.order.site_of_service or (case.order.location.place_of_service if case.order.location_id else "")
    born = case.patient.birth_date
    return [
        Fact("member", "Member id", coverage.member_id if coverage else "", missing="no coverage on file"),
        Fact("group", "Group number", coverage.group_number if coverage else "", missing="none on file"),
        Fact("npi", "Ordering provider NPI", provider.npi, note=str(provider)),
        Fact("pos", "Site of service", site, missing="not given", note=PLACE_OF_SERVICE.get(site, "")),
        Fact("phone", "Patient phone", us_phone(case.patient.mobile_phone), missing="no phone on file"),
        Fact("dob", "Date of birth", born.strftime("%m/%d/%Y") if born else ""),
    ]


def case_diagnoses(case) -> list[dict]:
    return [{"code": code, "description": icd10_description(code)} for code in case.order.diagnosis_codes or []]


def evidence_words(item: dict) -> dict:
    """One evidence entry ({resource, date, value}) as staff read it: what the thing is, its value and date."""
    resource = str(item.get("resource") or "")
    kind = resource.split("/", 1)[0] if "/" in resource else ""
    return {
        "what": RESOURCE_WORDS.get(kind, kind or "From the chart"),
        "value": item.get("value") or "",
        "date": item.get("date") or "",
        "reference": resource,
    }
