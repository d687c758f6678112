"""The built-in sandbox EHR for the embedded demo (SANDBOX_ENABLED only).

A deliberately small FHIR R4 read/search/conditional-create endpoint over
`SandboxResource` rows, answering exactly the interactions this app's client
makes (see README "EHR connection"): read by id; search by patient, code
(token), date (ge/gt/le/lt), _lastUpdated, identifier, with _count; POST with
If-None-Exist. It is not a general FHIR server: the tests use the Medplum
engine for that. Resources are stored as loaded, without profile validation.
"""

from __future__ import annotations

import json
import uuid
from datetime import date

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.db import transaction
from django.http import Http404, HttpResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from integrations.ehr_fhir import mapping, sandbox_auth
from integrations.ehr_fhir.models import SandboxResource
from integrations.fhir_json import fhir_response as _json
from integrations.fhir_json import outcome_response

PATIENT_FIELDS = ("subject", "patient", "beneficiary", "for")
DATE_FIELDS = ("effective", "performed", "onset", "occurrence", "period")


def _patient_ref(resource: dict) -> str:
    if resource.get("resourceType") == "Patient":
        return f"Patient/{resource['id']}"
    for name in PATIENT_FIELDS:
        ref = (resource.get(name) or {}).get("reference", "") if isinstance(resource.get(name), dict) else ""
        if isinstance(ref, str) and ref.startswith("Patient/"):
            return ref
    for participant in resource.get("participant") or []:  # Appointment
        ref = ((participant or {}).get("actor") or {}).get("reference", "")
        if ref.startswith("Patient/"):
            return ref
    return ""


def _rewrite(node, refs: dict):
    if isinstance(node, dict):
        return {
            k: (refs.get(v, v) if k == "reference" and isinstance(v, str) else _rewrite(v, refs))
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_rewrite(x, refs) for x in node]
    return node


def resource_put(resource: dict) -> SandboxResource:
    resource.setdefault("id", uuid.uuid4().hex)
    now = timezone.now()
    resource["meta"] = {**(resource.get("meta") or {}), "lastUpdated": now.isoformat().replace("+00:00", "Z")}
    row, _ = SandboxResource.objects.update_or_create(
        resource_type=resource["resourceType"],
        resource_id=resource["id"],
        defaults={"body": resource, "patient_ref": _patient_ref(resource), "last_updated": now},
    )
    return row


# A Synthea bundle nests about a dozen levels; deeper is not a FHIR resource.
MAX_DEPTH = 64


def bundle_check(bundle) -> None:
    """Raise ValueError naming what is wrong when `bundle` is not a loadable Bundle.

    Checked before anything is written, so a malformed file loads nothing: the shape
    `load_bundle` relies on (entries with a resource of a named type and a short id),
    nesting depth, and no NUL character (PostgreSQL's jsonb refuses it mid-load).
    """
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        raise ValueError("not a FHIR Bundle (a JSON object with resourceType Bundle)")
    entries = bundle.get("entry") or []
    if not isinstance(entries, list):
        raise ValueError("Bundle.entry is not a list")
    for n, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise ValueError(f"entry {n} is not an object")
        resource = entry.get("resource")
        if resource is None:
            continue
        if not isinstance(resource, dict):
            raise ValueError(f"entry {n}: resource is not an object")
        kind = resource.get("resourceType")
        if not isinstance(kind, str) or not kind.isalpha() or len(kind) > 40:
            raise ValueError(f"entry {n}: resourceType is missing or not a FHIR type name")
        rid = resource.get("id", "")
        if not isinstance(rid, str) or len(rid) > 64:
            raise ValueError(f"entry {n}: id is not a string of at most 64 characters")
        if not isinstance(entry.get("fullUrl", ""), str):
            raise ValueError(f"entry {n}: fullUrl is not a string")
    stack = [(bundle, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise ValueError(f"nested deeper than {MAX_DEPTH} levels")
        if isinstance(node, dict):
            stack.extend((k, depth) for k in node)
            stack.extend((v, depth + 1) for v in node.values())
        elif isinstance(node, list):
            stack.extend((v, depth + 1) for v in node)
        elif isinstance(node, str) and "\x00" in node:
            raise ValueError("contains a NUL character")


@transaction.atomic
def load_bundle(bundle: dict) -> int:
    """Load a transaction/batch/collection bundle; urn:uuid references become Type/id."""
    bundle_check(bundle)
    entries = [e for e in bundle.get("entry") or [] if isinstance(e.get("resource"), dict)]
    refs = {}
    for e in entries:
        r = e["resource"]
        r.setdefault("id", uuid.uuid4().hex)
        if e.get("fullUrl"):
            refs[e["fullUrl"]] = f"{r['resourceType']}/{r['id']}"
    for e in entries:
        resource_put(_rewrite(e["resource"], refs))
    return len(entries)


def _outcome(status: int, text: str) -> HttpResponse:
    return outcome_response(status, text, code="processing")


def _token_match(resource: dict, value: str) -> bool:
    system, _, code = value.rpartition("|")
    concepts = [resource.get(k) for k in ("code", "medicationCodeableConcept", "codeCodeableConcept", "type")]
    return any(
        c.get("code") == code and (not system or c.get("system") == system)
        for concept in concepts
        if isinstance(concept, dict)
        for c in mapping.codings(concept)
    )


def _resource_date(resource: dict) -> date | None:
    start, _ = mapping.period_of(resource, *DATE_FIELDS)
    return start or mapping.parse_date(resource.get("date") or resource.get("authoredOn") or resource.get("issued"))


def _compare(actual, op_value: str, parse) -> bool:
    op, raw = (op_value[:2], op_value[2:]) if op_value[:2] in ("ge", "gt", "le", "lt", "eq") else ("eq", op_value)
    wanted = parse(raw)
    if actual is None or wanted is None:
        return False
    return {
        "ge": actual >= wanted,
        "gt": actual > wanted,
        "le": actual <= wanted,
        "lt": actual < wanted,
        "eq": actual == wanted,
    }[op]


def _search(resource_type: str, params) -> list[dict]:
    rows = SandboxResource.objects.filter(resource_type=resource_type).order_by("last_updated", "id")
    for name in ("patient", "subject", "beneficiary"):
        if params.get(name):
            ref = params[name] if "/" in params[name] else f"Patient/{params[name]}"
            rows = rows.filter(patient_ref=ref)
    found = []
    for row in rows:
        r = row.body
        if "code" in params and not _token_match(r, params["code"]):
            continue
        if "identifier" in params:
            system, _, value = params["identifier"].rpartition("|")
            if not any(
                i.get("value") == value and (not system or i.get("system") == system)
                for i in (r.get("identifier") if isinstance(r.get("identifier"), list) else [r.get("identifier") or {}])
            ):
                continue
        if any(not _compare(_resource_date(r), v, mapping.parse_date) for v in params.getlist("date")):
            continue
        if any(not _compare(row.last_updated, v, mapping.parse_instant) for v in params.getlist("_lastUpdated")):
            continue
        found.append(r)
    if params.get("_sort", "").startswith("-"):
        found.reverse()
    return found[: int(params.get("_count") or 100)]


@csrf_exempt
@login_not_required
def fhir_endpoint(request, path: str):
    # The sandbox exists only when asked for (SANDBOX_ENABLED) and, like a real EHR, answers FHIR reads only
    # with a SMART Backend Services bearer token (sandbox_auth); the CapabilityStatement is public, as anywhere.
    if not settings.SANDBOX_ENABLED:
        raise Http404
    parts = [p for p in path.split("/") if p]
    refused = "" if parts == ["metadata"] else sandbox_auth.bearer_refusal(request)
    if refused:
        response = _outcome(401, refused)
        response["WWW-Authenticate"] = 'Bearer realm="sandbox-ehr"'
        return response
    if parts == ["metadata"]:
        return _json(
            200,
            {
                "resourceType": "CapabilityStatement",
                "status": "active",
                "kind": "instance",
                "fhirVersion": "4.0.1",
                "format": ["json"],
                "date": "2026-01-01",
            },
        )
    if request.method == "GET" and len(parts) == 2:
        row = SandboxResource.objects.filter(resource_type=parts[0], resource_id=parts[1]).first()
        return _json(200, row.body) if row else _outcome(404, f"{parts[0]}/{parts[1]} not found")
    if request.method == "GET" and len(parts) == 1:
        found = _search(parts[0], request.GET)
        return _json(
            200,
            {
                "resourceType": "Bundle",
                "type": "searchset",
                "total": len(found),
                "entry": [{"resource": r} for r in found],
            },
        )
    if request.method == "POST" and len(parts) == 1:
        try:
            resource = json.loads(request.body)
        except ValueError:
            return _outcome(400, "body is not JSON")
        if resource.get("resourceType") != parts[0]:
            return _outcome(400, "resourceType does not match the URL")
        condition = request.headers.get("If-None-Exist", "")
        if condition.startswith("identifier="):
            existing = _search(parts[0], _Params({"identifier": condition.split("=", 1)[1]}))
            if existing:
                return _json(200, existing[0])
        resource.pop("id", None)
        return _json(201, resource_put(resource).body)
    if request.method == "PUT" and len(parts) == 2:
        # Update in place: the write-back keeps one chart entry per case current.
        try:
            resource = json.loads(request.body)
        except ValueError:
            return _outcome(400, "body is not JSON")
        if not isinstance(resource, dict) or resource.get("resourceType") != parts[0]:
            return _outcome(400, "resourceType does not match the URL")
        if resource.get("id", parts[1]) != parts[1]:
            return _outcome(400, "id does not match the URL")
        resource["id"] = parts[1]
        return _json(200, resource_put(resource).body)
    return _outcome(405, "not supported by the sandbox")


class _Params(dict):
    def getlist(self, name):
        return [self[name]] if name in self else []
