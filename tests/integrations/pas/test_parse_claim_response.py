"""parse_claim_response on every file of the Da Vinci PAS reference implementation,
on our PAS 2.x fixtures, and on malformed bundles."""

import copy
import json

import pytest

from integrations.base import DecisionStatus as D
from integrations.pas.parse import PasResponseError, parse_claim_response
from tests.integrations.pas.conftest import PAS2_DIR, RI_DIR, load

# Every file in the RI directory, with what it must give: a status, or an error for files that are not responses.
RI_EXPECTED = {
    "GrantedResponse.json": (D.APPROVED, "ee7f76f8-5e4e-4733-8f85-3fe3c29cf30f"),
    "DeniedResponse.json": (D.DENIED, ""),
    "PendedClaimResponse.json": (D.PENDED, ""),
    "PendedFinalResponse.json": (D.APPROVED, "8373b834-7369-4a11-a2bf-0b72614cf1e9"),
    "bundle-response.json": (D.APPROVED, "AUTH0001"),
    "claimresponse-pended.json": (D.PENDED, ""),
    "bundle-prior-auth.json": "no ClaimResponse",
    "bundle-request.json": "no ClaimResponse",
    "claim-update.json": "expected a Bundle",
    "questionnaireresponse-dtr.json": "expected a Bundle",
    "subscription-resthook.json": "expected a Bundle",
    "README.md": None,  # not JSON: nothing to parse
}


def test_every_ri_file_is_accounted_for():
    assert {p.name for p in RI_DIR.iterdir()} == set(RI_EXPECTED)


@pytest.mark.parametrize("name", sorted(n for n, v in RI_EXPECTED.items() if v is not None))
def test_ri_file(name):
    expected = RI_EXPECTED[name]
    data = load(RI_DIR / name)
    if isinstance(expected, str):
        with pytest.raises(PasResponseError, match=expected):
            parse_claim_response(data)
        return
    status, number = expected
    decision = parse_claim_response(data)
    assert decision.status == status
    assert decision.authorization_number == number
    assert decision.shape == "pas-ri"


def test_ri_denied_keeps_reason_and_disposition():
    decision = parse_claim_response(load(RI_DIR / "DeniedResponse.json"))
    assert (decision.review_action_code, decision.reason_code, decision.reason_text) == ("A3", "X", "Denied")


def test_ri_authorized_event_date_is_the_period():
    decision = parse_claim_response(load(RI_DIR / "bundle-response.json"))
    assert (str(decision.effective_start), str(decision.effective_end)) == ("2005-05-02", "2005-06-02")


PAS2_EXPECTED = {
    "pas2-approved.json": dict(status=D.APPROVED, authorization_number="AUTH-778812", units_approved=1.0),
    "pas2-partial.json": dict(status=D.PARTIALLY_APPROVED, authorization_number="AUTH-55001", reason_code="MN01"),
    "pas2-modified.json": dict(status=D.PARTIALLY_APPROVED, units_approved=8.0, review_action_code="A6"),
    "pas2-denied.json": dict(status=D.DENIED, authorization_number="", reason_code="MN01"),
    "pas2-pended.json": dict(status=D.PENDED, reason_code="DOC1"),
    "pas2-queued.json": dict(status=D.STILL_PENDING),
    "pas2-no-action.json": dict(status=D.NOT_REQUIRED),
    "pas2-contact-payer.json": dict(status=D.CONTACT_PAYER),
}


def test_every_pas2_fixture_is_accounted_for():
    assert {p.name for p in PAS2_DIR.glob("*.json")} == set(PAS2_EXPECTED)


@pytest.mark.parametrize("name", sorted(PAS2_EXPECTED))
def test_pas2_fixture(name):
    decision = parse_claim_response(load(PAS2_DIR / name))
    assert decision.shape == "pas-2"
    for field, value in PAS2_EXPECTED[name].items():
        assert getattr(decision, field) == value, field


def test_pas2_approved_reads_period_and_item():
    decision = parse_claim_response(load(PAS2_DIR / "pas2-approved.json"))
    assert (str(decision.effective_start), str(decision.effective_end)) == ("2026-03-10", "2026-06-08")
    assert decision.items[0].review_action_code == "A1"
    assert decision.payer_tracking_id == "TRK-APPROVED"
    assert decision.decided_at.isoformat() == "2026-03-10T14:30:00+00:00"


def test_pas2_pended_carries_the_payers_exact_request():
    decision = parse_claim_response(load(PAS2_DIR / "pas2-pended.json"))
    assert decision.info_requested == ("Send the office note documenting functional limitation (last 30 days).",)


def _approved():
    return load(PAS2_DIR / "pas2-approved.json")


def _break(mutate):
    data = copy.deepcopy(_approved())
    mutate(data)
    return data


MALFORMED = {
    "not an object": ([1, 2], "must be an object"),
    "not a bundle": ({"resourceType": "Patient"}, "expected a Bundle"),
    "operation outcome": (
        {"resourceType": "OperationOutcome", "issue": [{"details": {"text": "bad member id"}}]},
        "bad member id",
    ),
    "entry not a list": (_break(lambda d: d.update(entry={"resource": {}})), "entry must be a list"),
    "no claimresponse": (_break(lambda d: d.update(entry=d["entry"][1:])), "no ClaimResponse"),
    "patient missing from bundle": (
        _break(lambda d: d["entry"].pop(1)),
        "patient refers to 'Patient/pat-1', which is not in the bundle",
    ),
    "insurer dangling": (
        _break(lambda d: d["entry"][0]["resource"].update(insurer={"reference": "Organization/nope"})),
        "insurer refers to",
    ),
    "item not a list": (
        _break(lambda d: d["entry"][0]["resource"].update(item={"itemSequence": 1})),
        "item must be a list",
    ),
    "sequence a string": (
        _break(lambda d: d["entry"][0]["resource"]["item"][0].update(itemSequence="1")),
        "itemSequence must be an integer",
    ),
    "unknown code": (
        _break(
            lambda d: d["entry"][0]["resource"]["item"][0]["adjudication"][0]["extension"][0]["extension"][0][
                "valueCodeableConcept"
            ]["coding"][0].update(code="ZZ")
        ),
        "unknown X12 306 review action code",
    ),
    "wrong code system": (
        _break(
            lambda d: d["entry"][0]["resource"]["item"][0]["adjudication"][0]["extension"][0]["extension"][0][
                "valueCodeableConcept"
            ]["coding"][0].update(system="http://example.org/other")
        ),
        "expected X12 306",
    ),
    "bad date": (_break(lambda d: d["entry"][0]["resource"].update(created="yesterday")), "not a dateTime"),
    "quantity not a number": (
        _break(
            lambda d: d["entry"][0]["resource"]["item"][0]["extension"][1]["extension"][0]["valueQuantity"].update(
                value="one"
            )
        ),
        "must be a number",
    ),
    "ri without action": (
        {"resourceType": "Bundle", "entry": [{"resource": {"resourceType": "ClaimResponse", "outcome": "complete"}}]},
        "no review action",
    ),
}


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_malformed_bundle_raises_a_clear_error(name):
    data, message = MALFORMED[name]
    with pytest.raises(PasResponseError) as err:
        parse_claim_response(data)
    assert message in str(err.value)
    assert str(err.value).startswith("Unreadable ClaimResponse:")
    assert err.value.permanent is False  # a payer that fixes its answer is read on the next poll


def test_fixtures_are_valid_json_files():
    for path in PAS2_DIR.glob("*.json"):
        assert json.loads(path.read_text())["resourceType"] == "Bundle"
