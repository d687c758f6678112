"""The one OperationOutcome reader every integration quotes from."""

import json

from integrations.fhir_json import outcome_response, outcome_text


def test_each_issue_says_diagnostics_else_details_else_code():
    body = {
        "resourceType": "OperationOutcome",
        "issue": [
            {"severity": "error", "code": "invalid", "diagnostics": "unknown topic", "details": {"text": "ignored"}},
            {"severity": "error", "code": "processing", "details": {"text": "no rest-hook"}},
            {"severity": "error", "code": "timeout"},
            "not an issue",
            {"severity": "error", "details": "not an object"},
        ],
    }
    assert outcome_text(body) == "unknown topic; no rest-hook; timeout"


def test_what_is_not_an_outcome_or_says_nothing_is_named_so():
    assert outcome_text({"resourceType": "Bundle"}) == "no OperationOutcome"
    assert outcome_text(["x"]) == "no OperationOutcome"
    assert outcome_text({"resourceType": "OperationOutcome", "issue": []}) == "no details"
    assert (
        len(outcome_text({"resourceType": "OperationOutcome", "issue": [{"diagnostics": "x" * 900}]}, limit=300)) == 300
    )


def test_the_sandboxes_answer_an_outcome_the_reader_reads_back():
    response = outcome_response(422, "the claim was already decided", code="business-rule")
    assert response.status_code == 422 and response["Content-Type"] == "application/fhir+json"
    body = json.loads(response.content)
    assert body["issue"][0]["code"] == "business-rule"
    assert outcome_text(body) == "the claim was already decided"
