"""Payer notifications for pended PAS requests: our Subscription at the payer, and what it sends us.

Da Vinci PAS 2.x uses topic-based subscriptions (FHIR R5 Subscriptions
Backport for R4). One topic, `PASSubscriptionTopic`, fires when a result for a
pended request is ready; its only filter is the requesting organization's
identifier, so a subscription is per (payer, practice), not per request. In
R4 the topic canonical goes in `Subscription.criteria` and the filter in the
`backport-filter-criteria` extension on `_criteria` (the IG: "org-identifier =
[requesting provider organization id]", the identifier on Claim.provider).

We ask for `id-only` notifications: the push carries no PHI, only the id of
the ClaimResponse that changed. A notification stays a hint: the matching
cases are woken and asked about with `$inquire` (the existing poll), so a
forged or replayed notification can at worst cause an extra status check.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone

from cases.models import CaseEvent, Practice, PriorAuthCase
from cases.services import case_event_add
from integrations.base import IntegrationError
from integrations.fhir_json import outcome_text
from integrations.pas.client import client_for
from integrations.pas.models import PayerSubscription
from integrations.submission.models import PayerLink, Submission
from payers.models import Payer

log = logging.getLogger(__name__)

PAS_TOPIC = "http://hl7.org/fhir/us/davinci-pas/SubscriptionTopic/PASSubscriptionTopic"
PAS_SUBSCRIPTION_PROFILE = "http://hl7.org/fhir/us/davinci-pas/StructureDefinition/profile-subscription"
BACKPORT = "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/"
BACKPORT_SUBSCRIPTION = BACKPORT + "backport-subscription"
FILTER_CRITERIA = BACKPORT + "backport-filter-criteria"
PAYLOAD_CONTENT = BACKPORT + "backport-payload-content"
STATUS_R4 = BACKPORT + "backport-subscription-status-r4"
# The filter parameter, as the IG's text spells it (the topic's canFilterBy calls it orgIdentifier).
ORG_FILTER = "org-identifier"

# A worker calling the payer holds the row this long (> connect + read timeouts).
CLAIM_LEASE = timedelta(minutes=2)
LEFT_ALONE = (PayerSubscription.State.ACTIVE, PayerSubscription.State.REQUESTED, PayerSubscription.State.OFF)
S = PayerSubscription.State


# --- configuration ----------------------------------------------------------------------------------


def public_base_url() -> str:
    """This app's public origin, as payers reach it (settings.PUBLIC_BASE_URL; '' when not set)."""
    return (getattr(settings, "PUBLIC_BASE_URL", "") or "").strip().rstrip("/")


def notify_url(payer_id: int) -> str:
    base = public_base_url()
    return f"{base}{reverse('pas:notify', kwargs={'payer_id': payer_id})}" if base else ""


def org_identifier(practice: Practice) -> str:
    """The identifier the payer knows the practice by on Claim.provider: its group NPI, else its tax id."""
    return (practice.npi or practice.tax_id or "").strip()


def _missing(payer: Payer, practice: Practice, link: PayerLink | None) -> str:
    """Why no subscription can be made now, in words an admin can act on ('' when nothing is missing)."""
    if not payer.fhir_base_url:
        return f"{payer} has no PAS FHIR base URL: set it on the payer (admin → Payers)."
    if link is None or not link.notify_secret:
        return (
            f"{payer} has no notification secret: set one in admin → Payer links, so the payer's "
            "notifications can be told from anyone else's."
        )
    if not public_base_url():
        return "PUBLIC_BASE_URL is not set: set it to this app's public https:// address, which the payer calls."
    if not org_identifier(practice):
        return f"{practice} has no group NPI or tax id: the payer filters notifications by one (admin → Practices)."
    return ""


def subscription_resource(*, payer: Payer, practice: Practice, secret: str) -> dict:
    """The R4 Backport Subscription we POST to the payer's `[base]/Subscription`."""
    return {
        "resourceType": "Subscription",
        "meta": {"profile": [PAS_SUBSCRIPTION_PROFILE, BACKPORT_SUBSCRIPTION]},
        "status": "requested",
        "reason": "Results of pended prior authorization requests",
        "criteria": PAS_TOPIC,
        "_criteria": {
            "extension": [{"url": FILTER_CRITERIA, "valueString": f"{ORG_FILTER}={org_identifier(practice)}"}]
        },
        "channel": {
            "type": "rest-hook",
            "endpoint": notify_url(payer.pk),
            "header": [f"Authorization: Bearer {secret}"],
            "payload": "application/fhir+json",
            # id-only: the push names the ClaimResponse, carries no PHI; we fetch with $inquire.
            "_payload": {"extension": [{"url": PAYLOAD_CONTENT, "valueCode": "id-only"}]},
        },
    }


# --- creating it at the payer -------------------------------------------------------------------------


def subscription_ensure(*, payer_id: int, practice_id: int, force: bool = False) -> PayerSubscription:
    """Make sure the practice is subscribed at the payer; returns the row with what happened.

    Idempotent: a requested or active subscription (or one an admin switched
    off) is left alone unless `force` (the admin's "re-create"). Without the
    payer's base URL, a notification secret, PUBLIC_BASE_URL or a practice
    identifier the row says `not_configured` and why, and no call is made.
    The row is claimed before the call, so two workers never POST twice.
    """
    payer = Payer.objects.get(pk=payer_id)
    practice = Practice.objects.get(pk=practice_id)
    row, _ = PayerSubscription.objects.get_or_create(payer=payer, practice=practice)
    if row.state in LEFT_ALONE and not force:
        return row
    link = PayerLink.objects.filter(payer=payer).first()
    missing = _missing(payer, practice, link)
    if missing:
        PayerSubscription.objects.filter(pk=row.pk).update(
            state=S.NOT_CONFIGURED, last_error=missing, updated_at=timezone.now()
        )
        row.refresh_from_db()
        return row
    now = timezone.now()
    claim = PayerSubscription.objects.filter(pk=row.pk).filter(
        Q(claimed_at__isnull=True) | Q(claimed_at__lt=now - CLAIM_LEASE)
    )
    if not force:
        claim = claim.exclude(state__in=LEFT_ALONE)
    resource = subscription_resource(payer=payer, practice=practice, secret=link.notify_secret)
    won = claim.update(
        claimed_at=now,
        attempts=F("attempts") + 1,
        last_attempt_at=now,
        org_identifier=org_identifier(practice)[:40],
        endpoint=resource["channel"]["endpoint"][:300],
        updated_at=now,
    )
    if not won:
        row.refresh_from_db()
        return row  # another worker is on it, or it became active meanwhile
    try:
        _status, answer = client_for(payer).create_subscription(resource)
        subscription_id, state = _read_answer(answer)
    except IntegrationError as exc:
        _record(row, state=S.ERROR, last_error=_advice(str(exc)))
        log.warning("PAS subscription %s (payer %s, practice %s) failed", row.pk, payer_id, practice_id)
    else:
        _record(row, state=state, subscription_id=subscription_id, last_error="")
        log.info("PAS subscription %s at payer %s is %s (%s)", row.pk, payer_id, state, subscription_id)
    row.refresh_from_db()
    return row


def _record(row: PayerSubscription, **fields) -> None:
    PayerSubscription.objects.filter(pk=row.pk).update(claimed_at=None, updated_at=timezone.now(), **fields)


def _read_answer(answer: dict) -> tuple[str, str]:
    """(the payer's Subscription id, our state) from its answer; IntegrationError for anything else."""
    rtype = answer.get("resourceType")
    if rtype == "OperationOutcome":
        raise IntegrationError(f"Subscription: the payer answered with an OperationOutcome: {outcome_text(answer)}")
    if rtype != "Subscription":
        raise IntegrationError(f"Subscription: the payer answered with {str(rtype)[:40]!r}, not a Subscription")
    subscription_id = answer.get("id")
    if not isinstance(subscription_id, str) or not subscription_id.strip():
        raise IntegrationError("Subscription: the payer's answer has no id, so its notifications cannot be matched")
    status = answer.get("status")
    if status == "active":
        return subscription_id[:64], S.ACTIVE
    if status == "requested":
        return subscription_id[:64], S.REQUESTED
    said = answer.get("error") if isinstance(answer.get("error"), str) else ""
    raise IntegrationError(
        f"Subscription: the payer created it with status {str(status)[:20]!r}" + (f": {said[:300]}" if said else "")
    )


def _advice(error: str) -> str:
    """The error as received, with what to check next."""
    if "refused" in error:
        hint = "Check that the payer supports PAS subscriptions and what it objects to; then re-create it."
    elif "OperationOutcome" in error or "not a Subscription" in error or "no id" in error or "status" in error:
        hint = "The payer's answer was not a usable Subscription; ask the payer, then re-create it."
    else:
        hint = "Retried every hour; check the payer's PAS base URL if it keeps failing."
    return f"{error[:1500]}. {hint}"


def subscription_wanted(*, case: PriorAuthCase) -> None:
    """A PAS request of this case now waits for the payer: subscribe its practice after commit,
    unless it already is (or is switched off). Called inside the transaction that moved the case."""
    from integrations.registry import channel_name_for

    if not case.payer_id or not case.practice_id or channel_name_for(case) != "pas":
        return
    if PayerSubscription.objects.filter(
        payer_id=case.payer_id, practice_id=case.practice_id, state__in=LEFT_ALONE
    ).exists():
        return
    payer_id, practice_id = case.payer_id, case.practice_id
    transaction.on_commit(lambda: _enqueue_ensure(payer_id, practice_id))


def _enqueue_ensure(payer_id: int, practice_id: int) -> None:
    from django_q.tasks import async_task

    async_task("integrations.pas.tasks.ensure_subscription", payer_id, practice_id)


def subscriptions_to_ensure() -> list[tuple[int, int]]:
    """(payer, practice) pairs for the hourly schedule: rows in error, and practices with PAS
    cases awaiting a payer that have no subscription yet (or one not configured before)."""
    from cases.transitions import AWAITING_PAYER as AWAITING

    pairs = set(PayerSubscription.objects.filter(state=S.ERROR).values_list("payer_id", "practice_id"))
    settled = set(PayerSubscription.objects.filter(state__in=LEFT_ALONE).values_list("payer_id", "practice_id"))
    waiting = (
        PriorAuthCase.objects.filter(status__in=AWAITING, payer__isnull=False)
        .filter(Q(channel="pas") | Q(channel="", payer__default_channel="pas"))
        .values_list("payer_id", "practice_id")
        .distinct()
    )
    pairs |= {pair for pair in waiting if pair not in settled}
    return sorted(pairs)


# --- reading what the payer sends ---------------------------------------------------------------------

# "ClaimResponse/<id>" at the end of a reference or fullUrl (optionally with a version).
CLAIM_RESPONSE_REF = re.compile(r"(?:^|/)ClaimResponse/([A-Za-z0-9\-.]{1,64})(?:/_history/[^/]+)?/?$")
# The identifier a request is known by when it was submitted without a Submission row (see last_sent_key).
ROWLESS_KEY = re.compile(r"^case-(\d{1,12})$")


@dataclass
class Notification:
    """A rest-hook notification as far as we need it. `kind` '' = not a Subscription notification
    Bundle (an older payer's hint payload): treated like an event."""

    kind: str = ""
    subscription_id: str = ""
    values: set[str] = field(default_factory=set)  # every short string in it: identifiers, references
    response_ids: set[str] = field(default_factory=set)  # ClaimResponse ids named in it


def _strings(node, out: set[str], depth: int = 0) -> set[str]:
    if depth > 12:
        return out
    if isinstance(node, dict):
        for v in node.values():
            _strings(v, out, depth + 1)
    elif isinstance(node, list):
        for v in node[:200]:
            _strings(v, out, depth + 1)
    elif isinstance(node, str) and 0 < len(node) <= 300:
        out.add(node)
    return out


def _status_resource(payload: dict) -> dict | None:
    """The SubscriptionStatus of a notification Bundle: R4 Backport's Parameters, or R4B/R5's resource."""
    if not isinstance(payload, dict) or payload.get("resourceType") != "Bundle":
        return None
    entries = payload.get("entry")
    if not isinstance(entries, list) or not entries or not isinstance(entries[0], dict):
        return None
    first = entries[0].get("resource")
    if isinstance(first, dict) and first.get("resourceType") in ("Parameters", "SubscriptionStatus"):
        return first
    return None


def _parameter(status: dict, name: str):
    for p in status.get("parameter") or []:
        if isinstance(p, dict) and p.get("name") == name:
            return p
    return None


def notification_read(payload) -> Notification:
    note = Notification(values=_strings(payload, set()))
    status = _status_resource(payload)
    if status is not None:
        if status["resourceType"] == "Parameters":
            kind = (_parameter(status, "type") or {}).get("valueCode")
            subscription = ((_parameter(status, "subscription") or {}).get("valueReference") or {}).get("reference")
        else:
            kind = status.get("type")
            subscription = (status.get("subscription") or {}).get("reference")
        note.kind = kind if isinstance(kind, str) else ""
        if isinstance(subscription, str) and subscription:
            note.subscription_id = subscription.rstrip("/").split("/")[-1][:64]
    for value in note.values:
        match = CLAIM_RESPONSE_REF.search(value)
        if match:
            note.response_ids.add(match.group(1))
    return note


def _case_ids_named(payer_id: int, note: Notification) -> set[int]:
    """Our cases of this payer that the notification names, by any identifier we keep."""
    values = note.values
    ids = set(
        Submission.objects.filter(case__payer_id=payer_id)
        .filter(
            Q(idempotency_key__in=values) | Q(payer_tracking_id__in=values) | Q(payer_response_id__in=note.response_ids)
        )
        .values_list("case_id", flat=True)
    )
    ids |= set(
        PriorAuthCase.objects.filter(payer_id=payer_id, payer_tracking_id__in=values).values_list("pk", flat=True)
    )
    rowless = {int(m.group(1)) for v in values if (m := ROWLESS_KEY.match(v))}
    if rowless:
        ids |= set(PriorAuthCase.objects.filter(payer_id=payer_id, pk__in=rowless).values_list("pk", flat=True))
    return ids


def notification_receive(*, payer_id: int, payload) -> tuple[int, dict]:
    """Apply an authenticated notification from `payer_id`; returns (HTTP status, JSON answer).

    handshake / heartbeat: acknowledged (200), the subscription marked active /
    its time noted, no case work. An event notification (or an older payer's
    hint) wakes the awaiting cases it names for an immediate `$inquire`; a case
    already due for a check is not woken twice, so a replayed notification adds
    nothing. Every wake goes on the case's timeline.
    """
    from cases.transitions import AWAITING_PAYER as AWAITING

    note = notification_read(payload)
    now = timezone.now()
    subscriptions = PayerSubscription.objects.filter(payer_id=payer_id)
    if note.subscription_id:
        subscriptions = subscriptions.filter(subscription_id=note.subscription_id)
    else:
        subscriptions = subscriptions.none()
    if note.kind == "handshake":
        subscriptions.exclude(state=S.OFF).update(
            state=S.ACTIVE, handshake_at=now, last_notified_at=now, last_error="", updated_at=now
        )
        return 200, {"handshake": True}
    if note.kind in ("heartbeat", "query-status"):
        subscriptions.update(last_notified_at=now)
        return 200, {note.kind: True}
    subscriptions.update(last_notified_at=now)
    case_ids = _case_ids_named(payer_id, note)
    woken, waiting = [], 0
    with transaction.atomic():
        for case in PriorAuthCase.objects.filter(pk__in=case_ids, status__in=AWAITING).select_for_update(of=("self",)):
            # The clock is read after the row lock: a replay that waited here for a concurrent copy of
            # itself sees that copy's wake (next_poll_at = its `now`, later than ours) as already due.
            if case.next_poll_at is not None and case.next_poll_at <= timezone.now():
                waiting += 1  # already due: a check is coming (a replay, or the poller got there first)
                continue
            PriorAuthCase.objects.filter(pk=case.pk).update(next_poll_at=now)
            case_event_add(case=case, kind=CaseEvent.Kind.PAYER, message="Payer notification received: checking status")
            woken.append(case.pk)
        transaction.on_commit(lambda: _enqueue_polls(woken))
    return 202, {"accepted": len(woken), "already_due": waiting}


def _enqueue_polls(case_ids: list[int]) -> None:
    from django_q.tasks import async_task

    for pk in case_ids:
        async_task("integrations.submission.tasks.poll_case", pk)
