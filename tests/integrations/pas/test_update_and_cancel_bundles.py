"""The PAS Claim Update (answering a pended request) and the cancel Claim, built from a case.

Checked against the IG's rules for profile-claim-update: a new identifier,
Claim.related → the prior Claim (included in the bundle, relationship "prior"),
every prior supportingInfo entry under its old sequence, what is new flagged
infoChanged, and for a cancel certification type 3 (X12 1322) with withdrawn items.
"""

import base64
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from cases.documents import document_upload
from cases.models import Document
from integrations.pas.bundle import (
    CERTIFICATION_TYPE,
    CLAIM_UPDATE_PROFILE,
    INFO_CANCELLED,
    INFO_CHANGED,
    X12_CERTIFICATION_TYPE,
    PriorClaim,
    build_cancel_bundle,
    build_request_bundle,
    claim_identifier,
    sent_supporting,
)
from integrations.pas.channel import prior_claim
from integrations.submission.models import Submission
from tests import factories as f
from tests.integrations.pas.bundle_refs import bundle_references, supporting_text

SUMMARY = "Headaches for 8 weeks despite two preventive drugs."


def _resolves(bundle):
    urls = {e["fullUrl"] for e in bundle["entry"]}
    refs = bundle_references(bundle)
    assert refs and set(refs) <= urls, set(refs) - urls
    assert len(urls) == len(bundle["entry"])  # each resource once


def _by_url(bundle):
    return {e["fullUrl"]: e["resource"] for e in bundle["entry"]}


def _ext(node, url):
    return [x for x in node.get("extension", []) if x["url"] == url]


def _changed(info):
    found = _ext(info, INFO_CHANGED)
    return found[0]["valueCode"] if found else None


def _upload(case, user, title, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return document_upload(
        case=case, actor=user, file=SimpleUploadedFile("x.pdf", f.PDF_BYTES, "application/pdf"), title=title
    )


@pytest.fixture
def sent_case(pas_case, coordinator, settings, tmp_path):
    """A case whose first request carried the summary and one document (as recorded at send time)."""
    pas_case.summary_text = SUMMARY
    pas_case.save()
    _upload(pas_case, coordinator, "MRI report", settings, tmp_path)
    first = build_request_bundle(pas_case, submission_key="case-1-sub-1")
    Submission.objects.create(
        case=pas_case,
        channel="pas",
        idempotency_key="case-1-sub-1",
        state=Submission.State.ACCEPTED,
        accepted_at=timezone.now() - timedelta(days=1),
        sent_supporting=sent_supporting(first),
    )
    return pas_case


def test_what_a_request_carried_is_recorded_for_the_next_update(sent_case):
    recorded = Submission.objects.get(idempotency_key="case-1-sub-1").sent_supporting
    doc = sent_case.documents.get()
    assert recorded == [
        {"seq": 1, "kind": "summary", "text": SUMMARY},
        {"seq": 2, "kind": "document", "document": doc.pk, "title": "MRI report"},
    ]


def test_update_relates_to_the_prior_claim_and_adds_only_what_is_new(sent_case, coordinator, settings, tmp_path):
    new_doc = _upload(sent_case, coordinator, "Office note 2026-03-02", settings, tmp_path)
    bundle = build_request_bundle(
        sent_case,
        submission_key="case-1-sub-2",
        prior=prior_claim(sent_case, "case-1-sub-1"),
        message="Functional limitation documented.",
    )
    _resolves(bundle)
    claim = bundle["entry"][0]["resource"]
    resources = _by_url(bundle)
    # A new identifier, the Claim Update profile, Claim first.
    assert claim_identifier(bundle) == "case-1-sub-2" and bundle["identifier"]["value"] == "case-1-sub-2"
    assert claim["meta"]["profile"] == [CLAIM_UPDATE_PROFILE] and claim["use"] == "preauthorization"
    assert claim["status"] == "active"
    # related → the prior Claim, by identifier and by a reference that resolves to it in the bundle.
    (related,) = claim["related"]
    assert related["relationship"]["coding"] == [
        {"system": "http://terminology.hl7.org/CodeSystem/ex-relatedclaimrelationship", "code": "prior"}
    ]
    assert related["claim"]["identifier"] == {"system": "urn:priorauth:submission", "value": "case-1-sub-1"}
    prior = resources[related["claim"]["reference"]]
    assert prior["resourceType"] == "Claim" and prior["identifier"][0]["value"] == "case-1-sub-1"
    assert "related" not in prior  # the first request updated nothing
    # The same items, unchanged (no flag), pointing at the same order.
    assert [i["sequence"] for i in claim["item"]] == [1]
    assert claim["item"][0]["productOrService"] == prior["item"][0]["productOrService"]
    assert _changed(claim["item"][0]) is None
    # Prior entries keep their sequences unflagged; the new document and the message are "added".
    infos = {i["sequence"]: i for i in claim["supportingInfo"]}
    assert sorted(infos) == [1, 2, 3, 4]
    assert supporting_text(bundle, infos[1]) == SUMMARY and _changed(infos[1]) is None
    assert _changed(infos[2]) is None
    assert _changed(infos[3]) == "added" and _changed(infos[4]) == "added"
    assert infos[4]["valueString"] == "Functional limitation documented."
    assert infos[4]["category"]["coding"][0]["code"] == "freeFormMessage"
    new_ref = resources[infos[3]["valueReference"]["reference"]]
    old_ref = resources[infos[2]["valueReference"]["reference"]]
    assert new_ref["identifier"][0]["value"] == str(new_doc.pk)
    # The new document travels with its bytes; the one the payer has is referenced without them.
    assert base64.b64decode(new_ref["content"][0]["attachment"]["data"]) == f.PDF_BYTES
    assert "data" not in old_ref["content"][0]["attachment"]
    # The prior Claim shows what it carried, citing the same DocumentReference.
    assert [i["sequence"] for i in prior["supportingInfo"]] == [1, 2]
    assert prior["supportingInfo"][1]["valueReference"] == infos[2]["valueReference"]
    # And the record of this update numbers the next one.
    assert [e["seq"] for e in sent_supporting(bundle)] == [1, 2, 3, 4]


def test_a_changed_summary_is_flagged_changed(sent_case):
    sent_case.summary_text = SUMMARY + " Now also nocturnal awakenings."
    sent_case.save()
    bundle = build_request_bundle(sent_case, submission_key="k2", prior=prior_claim(sent_case, "case-1-sub-1"))
    summary = next(i for i in bundle["entry"][0]["resource"]["supportingInfo"] if i["sequence"] == 1)
    assert supporting_text(bundle, summary).endswith("nocturnal awakenings.") and _changed(summary) == "changed"
    assert "valueString" not in summary  # additionalInformation: a reference only


def test_update_of_an_update_names_the_first_by_identifier_only(sent_case):
    second = build_request_bundle(
        sent_case, submission_key="case-1-sub-2", prior=prior_claim(sent_case, "case-1-sub-1")
    )
    Submission.objects.create(
        case=sent_case,
        channel="pas",
        idempotency_key="case-1-sub-2",
        kind=Submission.Kind.UPDATE,
        replaces_key="case-1-sub-1",
        state=Submission.State.ACCEPTED,
        sent_supporting=sent_supporting(second),
    )
    third = build_request_bundle(
        sent_case, submission_key="case-1-sub-3", prior=prior_claim(sent_case, "case-1-sub-2"), message="More."
    )
    _resolves(third)
    resources = _by_url(third)
    claim = third["entry"][0]["resource"]
    prior = resources[claim["related"][0]["claim"]["reference"]]
    assert prior["identifier"][0]["value"] == "case-1-sub-2" and prior["meta"]["profile"] == [CLAIM_UPDATE_PROFILE]
    # The IG: the prior's own prior is not included, so it is named by identifier alone.
    assert prior["related"][0]["claim"] == {
        "identifier": {"system": "urn:priorauth:submission", "value": "case-1-sub-1"}
    }
    assert [e.get("resource", {}).get("resourceType") for e in third["entry"]].count("Claim") == 2


def test_a_request_without_a_row_is_assumed_to_carry_the_packet_of_its_day(pas_case, coordinator, settings, tmp_path):
    # The demo seed submits cases without a Submission row ("case-<id>").
    pas_case.summary_text = SUMMARY
    pas_case.submitted_at = timezone.now() - timedelta(days=2)
    pas_case.save()
    old = _upload(pas_case, coordinator, "Old report", settings, tmp_path)
    Document.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=3))
    new = _upload(pas_case, coordinator, "New report", settings, tmp_path)
    prior = prior_claim(pas_case, f"case-{pas_case.pk}")
    assert [e.get("document") for e in prior.supporting] == [None, old.pk]
    bundle = build_request_bundle(pas_case, submission_key="k", prior=prior)
    added = [i for i in bundle["entry"][0]["resource"]["supportingInfo"] if _changed(i) == "added"]
    (doc_info,) = added
    assert _by_url(bundle)[doc_info["valueReference"]["reference"]]["identifier"][0]["value"] == str(new.pk)


def test_cancel_claim_withdraws_the_request_with_certification_type_3(sent_case):
    bundle = build_cancel_bundle(sent_case, cancel_key="case-1-sub-2", prior=prior_claim(sent_case, "case-1-sub-1"))
    _resolves(bundle)
    claim = bundle["entry"][0]["resource"]
    assert claim_identifier(bundle) == "case-1-sub-2"
    assert claim["meta"]["profile"] == [CLAIM_UPDATE_PROFILE]
    # The Claim stays "active": the certification type says cancel (the IG's note on status).
    assert claim["status"] == "active"
    cancel = {"system": X12_CERTIFICATION_TYPE, "code": "3", "display": "Cancel"}
    assert X12_CERTIFICATION_TYPE == "https://codesystem.x12.org/005010/1322"
    assert _ext(claim, CERTIFICATION_TYPE)[0]["valueCodeableConcept"]["coding"] == [cancel]
    for item in claim["item"]:
        assert _ext(item, CERTIFICATION_TYPE)[0]["valueCodeableConcept"]["coding"] == [cancel]
        assert item["modifierExtension"] == [{"url": INFO_CANCELLED, "valueBoolean": True}]
        assert _changed(item) == "changed"
    assert "supportingInfo" not in claim
    prior = _by_url(bundle)[claim["related"][0]["claim"]["reference"]]
    assert prior["identifier"][0]["value"] == "case-1-sub-1"
    assert claim["related"][0]["claim"]["identifier"]["value"] == "case-1-sub-1"


def test_prior_claim_keeps_withdrawn_entries_withdrawn(pas_case):
    prior = PriorClaim(
        key="p",
        supporting=({"seq": 1, "kind": "message", "text": "old", "cancelled": True},),
    )
    bundle = build_request_bundle(pas_case, submission_key="k", prior=prior, message="new")
    infos = bundle["entry"][0]["resource"]["supportingInfo"]
    assert infos[0]["modifierExtension"][0]["url"] == INFO_CANCELLED and _changed(infos[0]) is None
    assert infos[1]["sequence"] == 2 and _changed(infos[1]) == "added"
    assert sent_supporting(bundle)[0]["cancelled"] is True
