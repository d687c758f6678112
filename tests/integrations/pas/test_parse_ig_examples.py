"""parse_claim_response on the IG's own examples (Da Vinci PAS IG 2.2.1 Examples.fsh, transcribed to
tests/fixtures/pas/ig/, each file naming the instance it came from), one test per X12 306 review action
code in the IG's shape, and the shapes that are neither the IG's nor the reference implementation's."""

import copy
import json
from datetime import date

import pytest

from integrations.base import DecisionStatus as D
from integrations.pas.parse import (
    REVIEW_ACTION_CODE,
    PasResponseError,
    has_claim_response,
    parse_claim_response,
)
from integrations.pas.subscriptions import notification_read
from tests.integrations.pas.conftest import PAS2_DIR

IG_DIR = PAS2_DIR / "ig"


def ig(name: str) -> dict:
    data = json.loads((IG_DIR / f"{name}.json").read_text())
    data.pop("//")
    return data


IG_RESPONSES = {
    "ReferralAuthorizationResponseBundleExample": dict(
        status=D.APPROVED,
        authorization_number="AUTH0001",
        review_action_code="A1",
        effective_start=date(2005, 5, 2),
        effective_end=date(2005, 6, 2),
        units_approved=1.0,
        payer_tracking_id="111099",
    ),
    "PractitionerRequestorAdditionalContentResponseExample": dict(
        status=D.APPROVED, authorization_number="AUTH0001", units_approved=1.0
    ),
    "ReferralPendingAuthorizationResponseBundleExample": dict(status=D.PENDED, review_action_code="A4"),
    "RejectionResponseBundleExample": dict(status=D.DENIED, review_action_code="A3", authorization_number=""),
    "ErrorResponseBundleExample": dict(status=D.ERROR, reason_text="04; T4"),
    "PASClaimInquiryResponseBundleExample": dict(status=D.APPROVED, authorization_number="AUTH0001"),
    "PASClaimInquiryOperationResponseExample": dict(status=D.APPROVED, authorization_number="AUTH0001"),
    "ReferralPendingAuthorizationResponseBundleExample-with-CommunicationRequestExample": dict(
        status=D.PENDED,
        info_requested=(
            "Plan of care note (LOINC 18776-5) (Justification for Admissions; service line 1; diagnosis G89.4)",
        ),
    ),
    "ReferralPendingAuthorizationResponseBundleExample-with-AdditionalInformationTaskExample": dict(
        status=D.PENDED, info_requested=("Procedure note (LOINC 28570-0) (service line 1)",)
    ),
}
NOT_RESPONSES = {
    "ReferralAuthorizationBundleExample": "no ClaimResponse",  # the request bundle
    "PASSubscriptionNotification": "no ClaimResponse",  # read by notification_read, below
}


def test_every_ig_fixture_is_accounted_for_and_names_its_example():
    names = {p.stem for p in IG_DIR.glob("*.json")}
    assert names == set(IG_RESPONSES) | set(NOT_RESPONSES)
    for path in IG_DIR.glob("*.json"):
        assert "Examples.fsh" in json.loads(path.read_text())["//"]


@pytest.mark.parametrize("name", sorted(IG_RESPONSES))
def test_ig_example(name):
    decision = parse_claim_response(ig(name))
    for field, value in IG_RESPONSES[name].items():
        assert getattr(decision, field) == value, field
    if decision.status != D.ERROR:
        assert decision.shape == "pas-2"


@pytest.mark.parametrize("name", sorted(NOT_RESPONSES))
def test_ig_non_response_is_refused(name):
    with pytest.raises(PasResponseError, match=NOT_RESPONSES[name]):
        parse_claim_response(ig(name))


def test_additional_content_reads_the_payer_added_item():
    decision = parse_claim_response(ig("PractitionerRequestorAdditionalContentResponseExample"))
    assert [(i.sequence, i.review_action_code) for i in decision.items] == [(1, "A1"), (2, "A1")]


def test_inquiry_with_no_claim_response_means_unknown_request():
    empty = {"resourceType": "Bundle", "type": "collection", "timestamp": "2026-01-01T00:00:00Z", "entry": []}
    assert has_claim_response(empty) is False
    assert (
        has_claim_response({"resourceType": "Parameters", "parameter": [{"name": "responseBundle", "resource": empty}]})
        is False
    )
    assert has_claim_response(ig("PASClaimInquiryOperationResponseExample")) is True


def test_ig_notification_names_the_response_bundle():
    note = notification_read(ig("PASSubscriptionNotification"))
    assert note.kind == "event-notification"
    assert note.subscription_id == "PASSubscriptionExample"
    assert "111099" in note.values  # the ClaimResponse identifier, matched against payer tracking ids


# --- every X12 306 code in the IG's shape -----------------------------------------------------

X12_306 = {
    "A1": D.APPROVED,
    "A2": D.PARTIALLY_APPROVED,
    "A3": D.DENIED,
    "A4": D.PENDED,
    "A6": D.PARTIALLY_APPROVED,
    "C": D.CANCELLED,
    "CT": D.CONTACT_PAYER,
    "NA": D.NOT_REQUIRED,
}


def _with_code(code: str, *, url: str = REVIEW_ACTION_CODE) -> dict:
    data = copy.deepcopy(ig("ReferralAuthorizationResponseBundleExample"))
    action = data["entry"][0]["resource"]["item"][0]["adjudication"][0]["extension"][0]["extension"]
    sub = next(x for x in action if x["url"] == REVIEW_ACTION_CODE)
    sub["url"] = url
    sub["valueCodeableConcept"]["coding"][0]["code"] = code
    if code == "A3":
        action.append(
            {
                "url": "reasonCode",
                "valueCodeableConcept": {
                    "coding": [{"system": "https://codesystem.x12.org/external/886", "code": "MN01"}]
                },
            }
        )
    return data


@pytest.mark.parametrize("code", sorted(X12_306))
def test_each_x12_306_code_in_the_ig_shape(code):
    decision = parse_claim_response(_with_code(code))
    assert decision.status == X12_306[code]
    assert decision.review_action_code == code
    assert decision.shape == "pas-2"
    if code == "A3":
        assert decision.reason_code == "MN01"
    granted = X12_306[code] in (D.APPROVED, D.PARTIALLY_APPROVED)
    assert decision.authorization_number == ("AUTH0001" if granted else "")


@pytest.mark.parametrize("bare", ["reviewActionCode", "code"])
def test_code_under_its_slice_name_is_neither_shape_and_is_refused(bare):
    with pytest.raises(PasResponseError) as err:
        parse_claim_response(_with_code("A1", url=bare))
    assert f"names its code sub-extension {bare!r}" in str(err.value)
    assert REVIEW_ACTION_CODE in str(err.value)


def test_parameters_without_a_response_bundle_is_refused():
    with pytest.raises(PasResponseError, match="no responseBundle"):
        parse_claim_response({"resourceType": "Parameters", "parameter": [{"name": "other"}]})
