from integrations.pas.bundle import build_inquiry_bundle, build_request_bundle, claim_identifier
from tests import factories as f
from tests.integrations.pas.bundle_refs import bundle_references, supporting_text


def test_claim_first_and_every_reference_resolves(pas_case):
    pas_case.summary_text = "Six weeks of physical therapy without improvement."
    pas_case.save()
    f.PlanFactory(payer=pas_case.payer)
    bundle = build_request_bundle(pas_case, submission_key="case-1-sub-1")
    claim = bundle["entry"][0]["resource"]
    assert bundle["resourceType"] == "Bundle" and bundle["type"] == "collection"
    assert claim["resourceType"] == "Claim" and claim["use"] == "preauthorization"
    assert claim_identifier(bundle) == "case-1-sub-1"
    assert claim["item"][0]["productOrService"]["coding"][0] == {
        "system": "http://www.ama-assn.org/go/cpt",
        "code": "70551",
        "display": "MRI brain without contrast",
    }
    assert claim["diagnosis"][0]["diagnosisCodeableConcept"]["coding"][0]["code"] == "G43.909"
    assert supporting_text(bundle, claim["supportingInfo"][0]).startswith("Six weeks")
    assert claim["supportingInfo"][0]["category"]["coding"][0] == {
        "system": "http://hl7.org/fhir/us/davinci-pas/CodeSystem/PASTempCodes",
        "code": "additionalInformation",
    }
    full_urls = {e["fullUrl"] for e in bundle["entry"]}
    refs = bundle_references(bundle)
    assert refs and set(refs) <= full_urls
    types = [e["resource"]["resourceType"] for e in bundle["entry"]]
    assert {"Patient", "Coverage", "Organization", "Practitioner", "ServiceRequest"} <= set(types)


def test_medication_order_becomes_a_medication_request(pas_case):
    # A buy-and-bill drug (HCPCS J-code): the medical benefit, so a professional claim.
    order = pas_case.order
    order.kind, order.code_system, order.code = "medication", "HCPCS", "J1745"
    order.save()
    bundle = build_request_bundle(pas_case, submission_key="k")
    types = [e["resource"]["resourceType"] for e in bundle["entry"]]
    assert "MedicationRequest" in types and "ServiceRequest" not in types
    assert bundle["entry"][0]["resource"]["type"]["coding"][0]["code"] == "professional"


def test_inquiry_bundle_repeats_the_identifier_without_the_packet(pas_case):
    bundle = build_inquiry_bundle(pas_case, submission_key="case-9-sub-2")
    assert claim_identifier(bundle) == "case-9-sub-2"
    assert "supportingInfo" not in bundle["entry"][0]["resource"]
    assert set(bundle_references(bundle)) <= {e["fullUrl"] for e in bundle["entry"]}
