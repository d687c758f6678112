"""Member data from the chart: the PAS Beneficiary's gender, address and identifiers come from the EHR
Patient, the Coverage's member id and relationship from the EHR Coverage; nothing is hard-coded; and the
request's Claim carries the elements the IG's PASClaim requires (compared with the IG's own example)."""

import json

import pytest

from integrations.ehr_fhir.mapping import coverage_fields, patient_fields
from integrations.pas.bundle import build_request_bundle
from tests.integrations.pas.conftest import PAS2_DIR

pytestmark = pytest.mark.django_db

EHR_PATIENT = {
    "resourceType": "Patient",
    "id": "p-1",
    "identifier": [
        {"type": {"coding": [{"code": "MR"}]}, "system": "urn:oid:1.2.3.4", "value": "MRN-77"},
        {"type": {"coding": [{"code": "SS"}]}, "system": "http://hl7.org/fhir/sid/us-ssn", "value": "999-00-1234"},
    ],
    "name": [{"family": "Rivera", "given": ["Ana"]}],
    "gender": "female",
    "birthDate": "1961-04-02",
    "address": [
        {"use": "old", "line": ["1 Old Rd"], "city": "Oldtown", "state": "MA"},
        {"use": "home", "line": ["12 Elm St"], "city": "Springfield", "state": "MA", "postalCode": "01101"},
    ],
}


def _beneficiary(bundle):
    return next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient")


def test_the_ehr_patient_gives_gender_address_and_identifiers():
    fields = patient_fields(EHR_PATIENT)
    assert fields["gender"] == "female"
    assert fields["address"] == {"line": ["12 Elm St"], "city": "Springfield", "state": "MA", "postalCode": "01101"}
    assert {"system": "urn:oid:1.2.3.4", "value": "MRN-77", "type": "MR"} in fields["identifiers"]


def test_the_beneficiary_is_the_chart_patient(pas_case):
    fields = patient_fields(EHR_PATIENT)
    patient = pas_case.patient
    patient.mrn = "MRN-77"
    for name in ("gender", "address", "identifiers"):
        setattr(patient, name, fields[name])
    patient.save()
    beneficiary = _beneficiary(build_request_bundle(pas_case, submission_key="k"))
    assert beneficiary["gender"] == "female"
    assert beneficiary["address"] == [{"use": "home", **fields["address"]}]
    systems = {(i["system"], i["value"]) for i in beneficiary["identifier"]}
    assert ("urn:oid:1.2.3.4", "MRN-77") in systems  # the EHR's own MRN system
    assert ("http://hl7.org/fhir/sid/us-ssn", "999-00-1234") in systems
    member = [i for i in beneficiary["identifier"] if i["type"]["coding"][0]["code"] == "MB"]
    assert member and member[0]["value"] == pas_case.order.coverage.member_id


def test_nothing_is_guessed_when_the_chart_is_silent(pas_case):
    beneficiary = _beneficiary(build_request_bundle(pas_case, submission_key="k"))
    assert "gender" not in beneficiary and "address" not in beneficiary


def test_coverage_relationship_and_subscriber_come_from_the_ehr_coverage(pas_case):
    fields = coverage_fields(
        {
            "resourceType": "Coverage",
            "id": "c-1",
            "status": "active",
            "subscriberId": "W123",
            "subscriber": {"reference": "RelatedPerson/r-1", "display": "Luis Rivera"},
            "relationship": {
                "coding": [
                    {"system": "http://terminology.hl7.org/CodeSystem/subscriber-relationship", "code": "spouse"}
                ]
            },
            "period": {"start": "2026-01-01"},
            "payor": [{"display": "Harbor"}],
        }
    )
    assert (fields["relationship"], fields["subscriber_name"]) == ("spouse", "Luis Rivera")
    coverage = pas_case.order.coverage
    coverage.relationship, coverage.subscriber_name = fields["relationship"], fields["subscriber_name"]
    coverage.save()
    bundle = build_request_bundle(pas_case, submission_key="k")
    cov = next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Coverage")
    assert cov["relationship"]["coding"] == [
        {"system": "http://terminology.hl7.org/CodeSystem/subscriber-relationship", "code": "spouse"},
        {"system": "https://codesystem.x12.org/005010/1069", "code": "01"},
    ]
    assert cov["subscriber"] == {"display": "Luis Rivera"}  # the PASCoverage self-beneficiary invariant
    assert cov["identifier"][0]["type"]["coding"][0]["code"] == "MB"


def _paths(node, prefix="") -> set[str]:
    """Element paths of a resource, with extensions named by url (how the IG's profiles slice them)."""
    found = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("extension", "modifierExtension") and isinstance(value, list):
                for ext in value:
                    found.add(f"{prefix}{key}[{ext.get('url')}]")
                    found |= _paths(ext, f"{prefix}{key}[{ext.get('url')}].")
            elif key not in ("url", "valueString", "valueCodeableConcept", "valueReference", "valueBoolean"):
                found.add(prefix + key)
                found |= _paths(value, f"{prefix}{key}.")
    elif isinstance(node, list):
        for value in node:
            found |= _paths(value, prefix)
    return found


# What PASClaim (Claim.fsh, CommonClaimElements) makes required or what the IG example always carries
# and a prior authorization request of ours has too.
REQUIRED_LIKE_THE_IG = {
    "identifier",
    "status",
    "type",
    "use",
    "patient",
    "created",
    "insurer",
    "provider",
    "priority",
    "insurance",
    "insurance.sequence",
    "insurance.focal",
    "insurance.coverage",
    "diagnosis",
    "careTeam",
    "careTeam.extension[http://hl7.org/fhir/us/davinci-pas/StructureDefinition/extension-careTeamClaimScope]",
    "careTeam.provider",
    "item.sequence",
    "item.careTeamSequence",
    "item.diagnosisSequence",
    "item.category",
    "item.productOrService",
    "item.locationCodeableConcept",
    "item.extension[http://hl7.org/fhir/us/davinci-pas/StructureDefinition/extension-serviceItemRequestType]",
    "item.extension[http://hl7.org/fhir/us/davinci-pas/StructureDefinition/extension-certificationType]",
    "item.extension[http://hl7.org/fhir/us/davinci-pas/StructureDefinition/extension-requestedService]",
    "supportingInfo.extension[http://hl7.org/fhir/us/davinci-pas/StructureDefinition/extension-documentInformation]",
    "supportingInfo.category",
    "supportingInfo.sequence",
}


def test_our_claim_has_the_ig_claims_required_elements(pas_case):
    ig = json.loads((PAS2_DIR / "ig" / "ReferralAuthorizationBundleExample.json").read_text())
    ig_claim = _paths(ig["entry"][0]["resource"])
    assert REQUIRED_LIKE_THE_IG <= ig_claim  # the list is the IG example's, not ours
    pas_case.summary_text = "Six weeks of therapy failed."
    pas_case.save()
    ours = _paths(build_request_bundle(pas_case, submission_key="k")["entry"][0]["resource"])
    assert REQUIRED_LIKE_THE_IG - ours == set()


def test_every_entry_of_our_request_names_its_pas_profile(pas_case):
    bundle = build_request_bundle(pas_case, submission_key="k")
    for entry in bundle["entry"]:
        resource = entry["resource"]
        if resource["resourceType"] in (
            "Claim",
            "Patient",
            "Organization",
            "Coverage",
            "Practitioner",
            "PractitionerRole",
        ):
            assert resource["meta"]["profile"][0].startswith("http://hl7.org/fhir/us/davinci-pas/StructureDefinition/")
