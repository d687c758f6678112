"""The built-in sandbox payer (SANDBOX_ENABLED only): `Claim/$submit` and `Claim/$inquire`
at /sandbox/payer/<slug>/fhir/, answering in the PAS 2.x layout.

Each request's outcome is drawn once on receipt from the sandbox payer's
weights (seeded by the Claim identifier, so it is repeatable) and revealed
after `decision_delay_seconds`; before that the answer has no review action
(`outcome = partial`). A share of
calls answers 503 or hangs, so the demo exercises backoff and the breaker.

A PAS Claim Update (`Claim.related` → a request this payer has) is taken for a
pended or undecided request and decided again after the delay, drawn with
approval weighted up and no second pend (the staff answered). A Claim Update
with certification type 3 (Cancel) withdraws the request: both answer
cancelled (X12 306 "C") at once.
"""

from __future__ import annotations

import json
import random
import time
import uuid
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.db import IntegrityError
from django.http import Http404, HttpResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from integrations.fhir_json import fhir_response as _json
from integrations.fhir_json import outcome_response as _outcome
from integrations.pas.bundle import (
    CERTIFICATION_CANCEL,
    CERTIFICATION_TYPE,
    SUBMISSION_SYSTEM,
    claim_identifier,
)
from integrations.pas.models import SandboxClaim, SandboxPayer
from integrations.pas.parse import (
    ADJUDICATION,
    ITEM_AUTHORIZED_DETAIL,
    ITEM_AUTHORIZED_PROVIDER,
    ITEM_PERIOD,
    PAS,
    PROVIDER_TYPE,
    REVIEW_ACTION,
    REVIEW_ACTION_CODE,
    X12_98,
    X12_306,
    X12_755,
    X12_886,
)
from integrations.pas.sandbox_auth import bearer_refusal
from integrations.pas.sandbox_auth import unauthorized as _unauthorized

CLAIM_RESPONSE_PROFILE = PAS + "profile-claimresponse"
DENIAL_REASONS = [
    ("MN01", "Medical necessity criteria not met: no documented trial of conservative therapy for 6 weeks."),
    ("DOC2", "Imaging report older than the 90-day look-back; send a current report."),
    ("NET1", "Rendering provider is out of network for this plan."),
    ("", "Denied."),  # an unspecific denial, which the app must flag
]
# What a pended request asks for: (X12 755 report type, LOINC attachment code, the payer's note).
PEND_REQUESTS = [
    ("09", "11506-3", "Send the most recent office note documenting functional limitation."),
    ("LA", "11502-2", "Send the HbA1c result from the last 90 days."),
    ("PN", "11508-9", "Send physical therapy notes covering at least 6 weeks."),
]


def _draw(sp: SandboxPayer, identifier: str, *, update: bool = False) -> str:
    weights = [sp.approve_weight, sp.partial_weight, sp.deny_weight, sp.pend_weight]
    if update:
        # The information the payer asked for arrived: mostly approved, never pended again.
        weights = [sp.approve_weight * 3 + 1, sp.partial_weight, sp.deny_weight, 0]
    if not sum(weights):
        return "A1"
    return random.Random(identifier).choices(["A1", "A2", "A3", "A4"], weights=weights)[0]


def _related_identifier(claim: dict, entries: list[dict]) -> str:
    """The identifier of the request a Claim Update refers to (by identifier, or the included prior Claim)."""
    for related in claim.get("related") or []:
        ref = (related or {}).get("claim") or {}
        ident = ref.get("identifier") or {}
        if ident.get("system") == SUBMISSION_SYSTEM and ident.get("value"):
            return str(ident["value"])
        entry = _find_entry(entries, ref)
        if entry is not None:
            found = claim_identifier({"entry": [entry]})
            if found:
                return found
    return ""


def _is_cancel(claim: dict) -> bool:
    for ext in claim.get("extension") or []:
        if (ext or {}).get("url") == CERTIFICATION_TYPE:
            codings = ((ext.get("valueCodeableConcept") or {}).get("coding")) or []
            if any((c or {}).get("code") == CERTIFICATION_CANCEL for c in codings):
                return True
    return False


def requester_identifier(claim: dict, entries: list[dict]) -> str:
    """The requesting organization's identifier (Claim.provider): what PAS subscriptions filter on."""
    entry = _find_entry(entries, claim.get("provider"))
    for ident in ((entry or {}).get("resource") or {}).get("identifier") or []:
        if isinstance(ident, dict) and ident.get("value"):
            return str(ident["value"])[:40]
    return ""


def claim_response_id(row: SandboxClaim) -> str:
    """The id of the ClaimResponse the sandbox answers a stored request with (stable per request)."""
    return uuid.uuid5(uuid.NAMESPACE_URL, row.claim_identifier).hex


def _request_parts(bundle: dict) -> tuple[dict, list[dict]]:
    entries = [e for e in bundle.get("entry") or [] if isinstance(e, dict) and isinstance(e.get("resource"), dict)]
    if not entries or entries[0]["resource"].get("resourceType") != "Claim":
        raise ValueError("the first entry must be a Claim")
    claim = entries[0]["resource"]
    if claim.get("use") != "preauthorization":
        raise ValueError("Claim.use must be preauthorization")
    return claim, entries


def _adjudication(action: list[dict]) -> list[dict]:
    # The IG fixes item.adjudication.category to adjudication#submitted.
    return [
        {
            "category": {"coding": [{"system": ADJUDICATION, "code": "submitted"}]},
            "extension": [{"url": REVIEW_ACTION, "extension": action}],
        }
    ]


def response_bundle(row: SandboxClaim, *, now) -> dict:
    """A PAS 2.x response bundle (IG 2.2.1 PASResponseBundle) for a stored request.

    Before the decision is visible the ClaimResponse has `outcome = partial` and
    its items no review action (the IG allows only complete | error | partial,
    not `queued`); once decided, each item carries `reviewAction` with its `code`
    under the defined extension's canonical URL, `number`, `reasonCode` (X12 886),
    the authorized provider, period and quantity. A pended request names what the
    payer needs in a PAS CommunicationRequest (LOINC attachment code).
    """
    stored = row.claim
    claim = stored["claim"]
    patient_entry, insurer_entry = stored.get("patient"), stored.get("insurer")
    provider_entry = stored.get("provider")
    decided = now >= row.decide_at
    rng = random.Random(row.claim_identifier + "/detail")
    slug = row.sandbox_payer.slug
    cr = {
        "resourceType": "ClaimResponse",
        "id": claim_response_id(row),
        "meta": {"profile": [CLAIM_RESPONSE_PROFILE]},
        "identifier": [{"system": f"urn:sandbox-payer:{slug}", "value": f"SBX-{row.pk:06d}"}],
        "status": "active",
        "type": claim.get("type") or {"coding": [{"code": "professional"}]},
        "use": "preauthorization",
        "patient": claim.get("patient"),
        "created": (row.decide_at if decided else row.received_at).isoformat(timespec="seconds"),
        "insurer": claim.get("insurer"),
        # The request is named by its identifier: the Claim itself is not sent back.
        "request": {"identifier": {"system": SUBMISSION_SYSTEM, "value": row.claim_identifier}},
        "outcome": "complete" if decided else "partial",
    }
    if provider_entry:
        cr["requestor"] = claim.get("provider")
    entries = [{"fullUrl": f"urn:uuid:{cr['id']}", "resource": cr}]
    for entry in (patient_entry, insurer_entry, provider_entry):
        if entry:
            entries.append(entry)
    authorized_provider = {
        "url": ITEM_AUTHORIZED_PROVIDER,
        "extension": [
            {
                "url": PROVIDER_TYPE,
                "valueCodeableConcept": {"coding": [{"system": X12_98, "code": "SJ", "display": "Service Provider"}]},
            }
        ],
    }
    if provider_entry:
        authorized_provider["extension"].insert(0, {"url": "provider", "valueReference": claim.get("provider")})
    items = []
    notes = []
    for item in claim.get("item") or [{"sequence": 1}]:
        out = {"itemSequence": item.get("sequence", 1), "extension": [authorized_provider]}
        items.append(out)
        if not decided:
            continue
        code = row.review_action
        action = [{"url": REVIEW_ACTION_CODE, "valueCodeableConcept": {"coding": [{"system": X12_306, "code": code}]}}]
        if code in ("A1", "A2"):
            number = f"AUTH-{row.pk:06d}"
            action.append({"url": "number", "valueString": number})
            cr["preAuthRef"] = number
            start = timezone.localdate(now)
            requested = (item.get("quantity") or {}).get("value", 1)
            units = requested if code == "A1" else max(1, int(requested) // 2)
            period = {"start": start.isoformat(), "end": (start + timedelta(days=90)).isoformat()}
            out["extension"] += [
                {"url": ITEM_PERIOD, "valuePeriod": period},
                {"url": ITEM_AUTHORIZED_DETAIL, "extension": [{"url": "quantity", "valueQuantity": {"value": units}}]},
            ]
            if code == "A2" and units < requested:
                notes.append(f"Approved {units} of {requested} units requested.")
            elif code == "A2":
                period["end"] = (start + timedelta(days=30)).isoformat()
                notes.append("Approved for 30 days; a longer period needs a new request.")
        elif code == "A3":
            reason_code, text = rng.choice(DENIAL_REASONS)
            if reason_code:
                action.append(
                    {
                        "url": "reasonCode",
                        "valueCodeableConcept": {"coding": [{"system": X12_886, "code": reason_code}]},
                    }
                )
            notes.append(text)
        elif code == "A4" and "communicationRequest" not in cr:
            category, loinc, text = rng.choice(PEND_REQUESTS)
            comm = {
                "resourceType": "CommunicationRequest",
                "id": uuid.uuid5(uuid.NAMESPACE_URL, row.claim_identifier + "/info").hex,
                "meta": {"profile": [PAS + "profile-communicationrequest"]},
                # The attachment control number the provider quotes when it sends the document.
                "identifier": [{"system": f"urn:sandbox-payer:{slug}:attachment", "value": f"ACN-{row.pk:06d}"}],
                "status": "active",
                "category": [{"coding": [{"system": X12_755, "code": category}]}],
                "extension": [{"url": PAS + "extension-serviceLineNumber", "valuePositiveInt": out["itemSequence"]}],
                "payload": [{"contentString": loinc}],
            }
            if insurer_entry:
                comm["requester"] = claim.get("insurer")
            entries.append({"fullUrl": f"urn:uuid:{comm['id']}", "resource": comm})
            cr["communicationRequest"] = [{"reference": f"urn:uuid:{comm['id']}"}]
            notes.append(text)
        out["adjudication"] = _adjudication(action)
    cr["item"] = items
    if notes:
        cr["processNote"] = [{"number": i, "text": t} for i, t in enumerate(dict.fromkeys(notes), start=1)]
    return {
        "resourceType": "Bundle",
        "meta": {"profile": [PAS + "profile-pas-response-bundle"]},
        "identifier": {"system": f"urn:sandbox-payer:{slug}:transaction", "value": row.claim_identifier},
        "type": "collection",
        "timestamp": now.isoformat(timespec="seconds"),
        "entry": entries,
    }


def _misbehave(sp: SandboxPayer) -> HttpResponse | None:
    roll = random.random()
    if roll < sp.error_rate:
        return _outcome(503, "sandbox payer: temporarily unavailable")
    if roll < sp.error_rate + sp.timeout_rate:
        time.sleep(sp.timeout_seconds)  # longer than the client's read timeout
    return None


def _find_entry(entries: list[dict], ref: dict | None) -> dict | None:
    target = (ref or {}).get("reference", "")
    for e in entries:
        r = e["resource"]
        if e.get("fullUrl") == target or f"{r.get('resourceType')}/{r.get('id')}" == target:
            return e
    return None


@csrf_exempt
@login_not_required
@require_POST
def operation(request, payer: str, op: str):
    # The sandbox exists only in the embedded setup (off with PRODUCTION); it asks for a bearer token as a payer would.
    if not settings.SANDBOX_ENABLED or op not in ("submit", "inquire"):
        raise Http404
    sp = SandboxPayer.objects.filter(slug=payer).first()
    if sp is None:
        return _outcome(404, f"no sandbox payer '{payer}'")
    refused = bearer_refusal(request, sp)
    if refused:
        return _unauthorized(refused)
    misbehaving = _misbehave(sp)
    if misbehaving is not None:
        return misbehaving
    try:
        bundle = json.loads(request.body)
        if bundle.get("resourceType") != "Bundle":
            raise ValueError("expected a Bundle")
        claim, entries = _request_parts(bundle)
    except ValueError as exc:
        return _outcome(400, str(exc))
    identifier = claim_identifier(bundle)
    if not identifier:
        return _outcome(400, "Claim.identifier (urn:priorauth:submission) is required")
    now = timezone.now()
    row = SandboxClaim.objects.filter(sandbox_payer=sp, claim_identifier=identifier).first()
    if op == "inquire":
        if row is None:
            # PASInquiryResponseBundle: no ClaimResponse = no matching request.
            return _json(
                200,
                {
                    "resourceType": "Bundle",
                    "type": "collection",
                    "timestamp": now.isoformat(timespec="seconds"),
                    "entry": [],
                },
            )
        return _json(200, response_bundle(row, now=now))
    if row is None:
        stored = {
            "claim": claim,
            "patient": _find_entry(entries, claim.get("patient")),
            "insurer": _find_entry(entries, claim.get("insurer")),
            "provider": _find_entry(entries, claim.get("provider")),
        }
        review, decide_at = _draw(sp, identifier), now + timedelta(seconds=sp.decision_delay_seconds)
        prior_identifier = _related_identifier(claim, entries)
        if prior_identifier:
            prior = SandboxClaim.objects.filter(sandbox_payer=sp, claim_identifier=prior_identifier).first()
            if prior is None:
                return _outcome(400, f"Claim.related names a request this payer does not have ({prior_identifier})")
            if _is_cancel(claim):
                review, decide_at = "C", now
                # The withdrawn request answers "cancelled" from now on ($inquire on it says so too).
                SandboxClaim.objects.filter(pk=prior.pk).update(
                    review_action="C", decide_at=min(prior.decide_at, now), notified_at=prior.notified_at or now
                )
            elif prior.decide_at <= now and prior.review_action != "A4":
                return _outcome(422, "Only a pended or undecided request can be updated: send a new request.")
            else:
                review = _draw(sp, identifier, update=True)
        try:
            row = SandboxClaim.objects.create(
                sandbox_payer=sp,
                claim_identifier=identifier,
                review_action=review,
                received_at=now,
                decide_at=decide_at,
                claim=stored,
                requester_identifier=requester_identifier(claim, entries),
                # Decided at once: the answer below carries it, so subscribers are not told again.
                notified_at=now if decide_at <= now else None,
            )
        except IntegrityError:  # the same request twice at once: answer about the first
            row = SandboxClaim.objects.get(sandbox_payer=sp, claim_identifier=identifier)
    return _json(200, response_bundle(row, now=now))
