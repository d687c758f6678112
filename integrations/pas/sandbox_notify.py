"""The sandbox payer's subscriptions (SANDBOX_ENABLED only): `POST [base]/Subscription` and the pushes.

Two shapes are taken:

- **PAS topic (R4 Backport)**: `criteria` = the PAS topic canonical, the
  `backport-filter-criteria` extension on `_criteria` with the requesting
  organization's identifier (`org-identifier=<id>`, several comma-separated;
  `orgIdentifier` and a `Resource?` prefix are read too), a rest-hook channel
  with its headers and payload content (`id-only`, `full-resource`, `empty`).
  It is answered 201 with status `active`; a `handshake` is sent on the next
  push, after the answer.
- **The reference implementation's older shape**: `criteria` as a search
  string (`identifier=…&patient.identifier=…`), a rest-hook channel, no
  payload (the R4 classic "ping": a POST with no body).

The push (`sandbox_push_due`, a schedule every minute) finds requests whose
decision became visible since the last push and did not come with the
`$submit` answer, and notifies every matching active subscription with an
R4 Backport `event-notification` Bundle over HTTP, with the subscription's
headers. A failed push is retried a few times with backoff, then logged by id.
"""

from __future__ import annotations

import json
import logging
import uuid
from datetime import timedelta
from urllib.parse import parse_qsl, urlsplit

import requests
from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.db import transaction
from django.db.models import F
from django.http import Http404
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from integrations.fhir_json import fhir_response as _json
from integrations.fhir_json import outcome_response as _outcome
from integrations.pas.bundle import SUBMISSION_SYSTEM
from integrations.pas.models import SandboxClaim, SandboxNotification, SandboxPayer, SandboxSubscription
from integrations.pas.sandbox import claim_response_id, response_bundle
from integrations.pas.sandbox_auth import bearer_refusal
from integrations.pas.sandbox_auth import unauthorized as _unauthorized
from integrations.pas.subscriptions import BACKPORT, FILTER_CRITERIA, PAS_TOPIC, PAYLOAD_CONTENT, STATUS_R4

log = logging.getLogger(__name__)

NOTIFICATION_PROFILE = BACKPORT + "backport-subscription-notification-r4"
PAYLOAD_CONTENTS = ("empty", "id-only", "full-resource")
ORG_FILTER_NAMES = ("org-identifier", "orgIdentifier")
PUSH_MAX_ATTEMPTS = 3
PUSH_TIMEOUT = (3.0, 10.0)
PUSH_BATCH = 50
# A claimed notification is not sent again by another tick for this long (> the HTTP timeouts).
PUSH_LEASE = timedelta(seconds=30)


class SubscriptionRefused(ValueError):
    """The Subscription cannot be taken; the message says why (answered 400 as an OperationOutcome)."""


def _org_filter(value: str) -> list[str]:
    """Identifiers from a filter such as `org-identifier=123,456` or `ClaimResponse?orgIdentifier=sys|123`."""
    query = value.split("?", 1)[1] if "?" in value else value
    found = []
    for name, values in parse_qsl(query, keep_blank_values=True):
        if name not in ORG_FILTER_NAMES:
            raise SubscriptionRefused(f"the PAS topic filters only by org-identifier, not {name[:40]!r}")
        found += [v.rsplit("|", 1)[-1].strip() for v in values.split(",") if v.strip()]
    if not found:
        raise SubscriptionRefused("the org-identifier filter names no organization")
    return found


def _parse(resource) -> dict:
    """The fields of a SandboxSubscription from a posted Subscription; SubscriptionRefused otherwise."""
    if not isinstance(resource, dict) or resource.get("resourceType") != "Subscription":
        raise SubscriptionRefused("expected a Subscription resource")
    channel = resource.get("channel")
    if not isinstance(channel, dict) or channel.get("type") != "rest-hook":
        raise SubscriptionRefused("only rest-hook channels are offered (Subscription.channel.type)")
    endpoint = channel.get("endpoint")
    if not isinstance(endpoint, str) or not endpoint.startswith(("http://", "https://")) or len(endpoint) > 500:
        raise SubscriptionRefused("Subscription.channel.endpoint must be an http(s) URL")
    if not own_origin(endpoint):
        raise SubscriptionRefused(
            "this sandbox payer notifies only this app's own address (PUBLIC_BASE_URL): "
            "Subscription.channel.endpoint has another origin"
        )
    headers = channel.get("header") or []
    if not isinstance(headers, list) or not all(isinstance(h, str) and ":" in h for h in headers):
        raise SubscriptionRefused("Subscription.channel.header must be a list of 'Name: value' strings")
    criteria = resource.get("criteria")
    if not isinstance(criteria, str) or not criteria.strip():
        raise SubscriptionRefused("Subscription.criteria is required")
    payload = channel.get("payload") if isinstance(channel.get("payload"), str) else ""
    fields = {"criteria": criteria, "endpoint": endpoint, "headers": headers, "payload_type": payload[:40]}
    if criteria.split("|", 1)[0] == PAS_TOPIC:
        filters = [
            ext.get("valueString")
            for ext in ((resource.get("_criteria") or {}).get("extension") or [])
            if isinstance(ext, dict) and ext.get("url") == FILTER_CRITERIA
        ]
        if len(filters) != 1 or not isinstance(filters[0], str):
            raise SubscriptionRefused("the PAS topic needs one backport-filter-criteria: org-identifier=<your org id>")
        content = "id-only"
        for ext in (channel.get("_payload") or {}).get("extension") or []:
            if isinstance(ext, dict) and ext.get("url") == PAYLOAD_CONTENT:
                content = ext.get("valueCode")
        if content not in PAYLOAD_CONTENTS:
            raise SubscriptionRefused(f"payload content must be one of {', '.join(PAYLOAD_CONTENTS)}")
        return {
            **fields,
            "kind": SandboxSubscription.Kind.TOPIC,
            "filters": {"org-identifier": _org_filter(filters[0])},
            "payload_content": content,
        }
    if criteria.startswith(("http://", "https://")):
        raise SubscriptionRefused(f"unknown topic {criteria[:120]!r}: this payer offers {PAS_TOPIC}")
    # The older shape: a search over ClaimResponse ("ClaimResponse?" may be left out).
    query = criteria.split("?", 1)[1] if "?" in criteria else criteria
    params: dict[str, list[str]] = {}
    for name, value in parse_qsl(query, keep_blank_values=False):
        params.setdefault(name, []).append(value)
    if not params:
        raise SubscriptionRefused("Subscription.criteria has no search parameters")
    return {**fields, "kind": SandboxSubscription.Kind.CRITERIA, "filters": params, "payload_content": ""}


def _base(request, slug: str) -> str:
    return request.build_absolute_uri(f"/sandbox/payer/{slug}/fhir")


def _as_resource(sub: SandboxSubscription) -> dict:
    return {**sub.resource, "id": str(sub.pk), "status": sub.fhir_status}


@csrf_exempt
@login_not_required
@require_http_methods(["GET", "POST"])
def subscription(request, payer: str, pk: int | None = None):
    # The sandbox exists only in the embedded setup (off with PRODUCTION); it asks for a bearer token as a payer would.
    if not settings.SANDBOX_ENABLED:
        raise Http404
    sp = SandboxPayer.objects.filter(slug=payer).first()
    if sp is None:
        return _outcome(404, f"no sandbox payer '{payer}'")
    refused = bearer_refusal(request, sp)
    if refused:
        return _unauthorized(refused)
    if pk is not None:
        if request.method != "GET":
            return _outcome(405, "use GET on a Subscription")
        sub = SandboxSubscription.objects.filter(sandbox_payer=sp, pk=pk).first()
        return _json(200, _as_resource(sub)) if sub else _outcome(404, f"no Subscription/{pk}")
    if request.method != "POST":
        return _outcome(405, "POST a Subscription")
    try:
        resource = json.loads(request.body)
        fields = _parse(resource)
    except ValueError as exc:  # not JSON, or SubscriptionRefused
        return _outcome(400, str(exc))
    with transaction.atomic():
        sub = SandboxSubscription.objects.create(
            sandbox_payer=sp, resource=resource, base_url=_base(request, payer), **fields
        )
        if sub.kind == SandboxSubscription.Kind.TOPIC:
            # Sent by the next push, after this answer (the subscriber stores our id first).
            SandboxNotification.objects.create(subscription=sub, kind="handshake")
    response = _json(201, _as_resource(sub))
    response["Location"] = f"{_base(request, payer)}/Subscription/{sub.pk}"
    return response


# --- the push -----------------------------------------------------------------------------------------


def _matches(sub: SandboxSubscription, claim: SandboxClaim) -> bool:
    if sub.kind == SandboxSubscription.Kind.TOPIC:
        return bool(claim.requester_identifier) and claim.requester_identifier in sub.filters.get("org-identifier", [])
    # Older shape: identifier (the request's or the ClaimResponse's) and patient.identifier must match.
    known = {claim.claim_identifier, f"SBX-{claim.pk:06d}", claim_response_id(claim)}
    patient = ((claim.claim.get("patient") or {}).get("resource") or {}).get("identifier") or []
    checks = {
        "identifier": known,
        "patient.identifier": {str(i.get("value")) for i in patient if isinstance(i, dict)},
    }
    for name, values in sub.filters.items():
        if name in checks and not any(v.rsplit("|", 1)[-1] in checks[name] for v in values):
            return False
    return True


def _queue_events(now) -> int:
    """One event-notification row per (newly visible decision, matching active subscription)."""
    made = 0
    with transaction.atomic():
        claims = list(
            SandboxClaim.objects.filter(notified_at__isnull=True, decide_at__lte=now)
            .select_for_update(skip_locked=True)
            .order_by("decide_at")[:200]
        )
        if not claims:
            return 0
        subs: dict[int, list[SandboxSubscription]] = {}
        for sub in SandboxSubscription.objects.filter(
            sandbox_payer_id__in={c.sandbox_payer_id for c in claims}, fhir_status="active"
        ).order_by("pk"):
            subs.setdefault(sub.sandbox_payer_id, []).append(sub)
        for claim in claims:
            for sub in subs.get(claim.sandbox_payer_id, []):
                if not _matches(sub, claim):
                    continue
                SandboxSubscription.objects.filter(pk=sub.pk).update(events_since_start=F("events_since_start") + 1)
                sub.refresh_from_db(fields=["events_since_start"])
                SandboxNotification.objects.create(
                    subscription=sub,
                    kind="event-notification",
                    claim=claim,
                    event_number=sub.events_since_start,
                    next_attempt_at=now,  # sent by this same push
                )
                made += 1
        SandboxClaim.objects.filter(pk__in=[c.pk for c in claims]).update(notified_at=now)
    return made


def notification_body(note: SandboxNotification, *, now) -> dict | None:
    """What is POSTed: an R4 Backport notification Bundle (topic), or for the older shape the
    ClaimResponse (with a payload type) or nothing (None: a POST with no body)."""
    sub = note.subscription
    base = sub.base_url
    claim = note.claim
    if sub.kind == SandboxSubscription.Kind.CRITERIA:
        if not sub.payload_type or claim is None:
            return None
        return response_bundle(claim, now=now)["entry"][0]["resource"]
    status_id = str(uuid.uuid4())
    parameters = [
        {"name": "subscription", "valueReference": {"reference": f"{base}/Subscription/{sub.pk}"}},
        {"name": "topic", "valueCanonical": PAS_TOPIC},
        {"name": "status", "valueCode": sub.fhir_status},
        {"name": "type", "valueCode": note.kind},
        {"name": "events-since-subscription-start", "valueString": str(sub.events_since_start)},
    ]
    entries = []
    if claim is not None and sub.payload_content != "empty":
        cr_url = f"{base}/ClaimResponse/{claim_response_id(claim)}"
        parameters.append(
            {
                "name": "notification-event",
                "part": [
                    {"name": "event-number", "valueString": str(note.event_number)},
                    {"name": "timestamp", "valueInstant": claim.decide_at.isoformat(timespec="seconds")},
                    {"name": "focus", "valueReference": {"reference": cr_url}},
                    # The request it answers, by the identifier the requester gave it (no PHI).
                    {
                        "name": "additional-context",
                        "valueReference": {
                            "reference": f"{base}/Claim/{claim.pk}",
                            "identifier": {"system": SUBMISSION_SYSTEM, "value": claim.claim_identifier},
                        },
                    },
                ],
            }
        )
        focus = {
            "fullUrl": cr_url,
            "request": {"method": "PUT", "url": f"ClaimResponse/{claim_response_id(claim)}"},
            "response": {"status": "200"},
        }
        if sub.payload_content == "full-resource":
            focus["resource"] = response_bundle(claim, now=now)["entry"][0]["resource"]
        entries.append(focus)
    status = {
        "resourceType": "Parameters",
        "id": status_id,
        "meta": {"profile": [STATUS_R4]},
        "parameter": parameters,
    }
    return {
        "resourceType": "Bundle",
        "id": str(uuid.uuid4()),
        "meta": {"profile": [NOTIFICATION_PROFILE]},
        "type": "history",
        "timestamp": now.isoformat(timespec="seconds"),
        "entry": [
            {
                "fullUrl": f"urn:uuid:{status_id}",
                "resource": status,
                "request": {"method": "GET", "url": f"{base}/Subscription/{sub.pk}/$status"},
                "response": {"status": "200"},
            },
            *entries,
        ],
    }


def _headers(sub: SandboxSubscription) -> dict[str, str]:
    headers = {}
    for line in sub.headers:
        name, _, value = line.partition(":")
        headers[name.strip()] = value.strip()
    return headers


def own_origin(url: str) -> bool:
    """Whether `url` is on this app's own origin (PUBLIC_BASE_URL): the sandbox must not post anywhere else.

    A real payer posts to whatever its subscribers register; the built-in sandbox runs inside this app, so an
    endpoint elsewhere would turn it into a way to make this server send requests to any address.
    """
    mine, theirs = urlsplit(settings.PUBLIC_BASE_URL or ""), urlsplit(url)
    return bool(mine.netloc) and (mine.scheme, mine.netloc.lower()) == (theirs.scheme, theirs.netloc.lower())


def _send(note: SandboxNotification, *, now) -> str:
    """POST one notification; '' on success, else what went wrong (no payload content in it)."""
    if not own_origin(note.subscription.endpoint):
        return "the endpoint is not this app's own address (PUBLIC_BASE_URL)"
    body = notification_body(note, now=now)
    headers = {**_headers(note.subscription)}
    if body is not None:
        headers["Content-Type"] = "application/fhir+json"
    try:
        response = requests.post(
            note.subscription.endpoint,
            data=json.dumps(body) if body is not None else b"",
            headers=headers,
            timeout=PUSH_TIMEOUT,
        )
    except requests.RequestException as exc:
        return f"cannot reach the endpoint ({type(exc).__name__})"
    if 200 <= response.status_code < 300:
        return ""
    return f"the endpoint answered HTTP {response.status_code}"


def _claim_due(now) -> list[int]:
    with transaction.atomic():
        ids = list(
            SandboxNotification.objects.filter(state=SandboxNotification.State.PENDING, next_attempt_at__lte=now)
            .select_for_update(skip_locked=True)
            .order_by("pk")
            .values_list("pk", flat=True)[:PUSH_BATCH]
        )
        SandboxNotification.objects.filter(pk__in=ids).update(next_attempt_at=now + PUSH_LEASE)
    return ids


def sandbox_push_due(*, now=None) -> dict:
    """The push schedule: queue notifications for newly visible decisions, then send what is due."""
    if not settings.SANDBOX_ENABLED:
        return {"skipped": "SANDBOX_ENABLED is off"}
    now = now or timezone.now()
    queued = _queue_events(now)
    sent = failed = retrying = 0
    for pk in _claim_due(now):
        note = SandboxNotification.objects.select_related("subscription", "claim__sandbox_payer").get(pk=pk)
        if note.subscription.fhir_status not in ("active", "requested"):
            note.state = SandboxNotification.State.FAILED
            note.last_error = f"the subscription is {note.subscription.fhir_status}"
            note.save(update_fields=["state", "last_error"])
            failed += 1
            continue
        error = _send(note, now=timezone.now())
        note.attempts += 1
        if not error:
            note.state, note.sent_at, note.last_error = SandboxNotification.State.SENT, timezone.now(), ""
            sent += 1
        elif note.attempts >= PUSH_MAX_ATTEMPTS:
            note.state, note.last_error = SandboxNotification.State.FAILED, error[:300]
            failed += 1
            log.warning(
                "sandbox %s %s to subscription %s failed after %s attempts: %s",
                note.kind,
                note.pk,
                note.subscription_id,
                note.attempts,
                error,
            )
            if note.kind == "handshake":  # the R5 rule: a subscription whose handshake fails is in error
                SandboxSubscription.objects.filter(pk=note.subscription_id).update(fhir_status="error")
        else:
            note.last_error = error[:300]
            note.next_attempt_at = timezone.now() + timedelta(minutes=2**note.attempts)
            retrying += 1
        note.save(update_fields=["state", "sent_at", "last_error", "attempts", "next_attempt_at"])
    return {"queued": queued, "sent": sent, "retrying": retrying, "failed": failed}
