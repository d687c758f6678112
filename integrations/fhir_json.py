"""FHIR JSON shared by the integrations and their sandboxes: OperationOutcome in and out.

Plain dicts only (no FHIR library): `ehr_fhir` stays the only importer of
fhirclient. One reading of an OperationOutcome, so every error a person sees
quotes a payer's or EHR's words the same way.
"""

from __future__ import annotations

import json

from django.http import HttpResponse

FHIR_JSON = "application/fhir+json"


def outcome_text(body, *, limit: int = 500) -> str:
    """What an OperationOutcome says: each issue's diagnostics, else its details text, else its code."""
    if not isinstance(body, dict) or body.get("resourceType") != "OperationOutcome":
        return "no OperationOutcome"
    texts = []
    for issue in body.get("issue") or []:
        if not isinstance(issue, dict):
            continue
        details = issue.get("details") if isinstance(issue.get("details"), dict) else {}
        texts.append(str(issue.get("diagnostics") or details.get("text") or issue.get("code") or ""))
    return "; ".join(t for t in texts if t)[:limit] or "no details"


def fhir_response(status: int, body: dict) -> HttpResponse:
    return HttpResponse(json.dumps(body), status=status, content_type=FHIR_JSON)


def outcome_response(status: int, text: str, *, code: str = "invalid") -> HttpResponse:
    """An error answer as a FHIR server gives it (the sandboxes)."""
    return fhir_response(
        status,
        {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": code, "details": {"text": text}}]},
    )
