"""The Da Vinci PAS channel: `PayerChannel` over FHIR `Claim/$submit` and `Claim/$inquire`."""

from __future__ import annotations

from dataclasses import replace

from django.utils import timezone

from cases.models import CaseEvent, Role, Task
from cases.services import case_event_add, task_create
from integrations.base import ChannelBase, IntegrationError, PayerDecision, SubmissionReceipt
from integrations.pas.bundle import (
    NotSent,
    PriorClaim,
    build_cancel_bundle,
    build_inquiry_bundle,
    build_request_bundle,
    sent_supporting,
)
from integrations.pas.client import PasClient, client_for
from integrations.pas.parse import PasResponseError, has_claim_response, parse_claim_response, response_bundle
from integrations.pas.subscriptions import subscription_wanted
from integrations.submission.models import Exchange, Submission
from payers.models import Benefit, benefit_for


class PasChannel(ChannelBase):
    name = "pas"
    automated = True
    can_poll = True  # Claim/$inquire
    can_update = True  # a Claim Update answering a pended request
    can_cancel = True  # withdraws a request through $submit (PAS Claim Update, certification type 3)

    def on_awaiting(self, case) -> None:
        """Queued or pended at the payer: subscribe the practice to the payer's PAS notifications."""
        subscription_wanted(case=case)

    def submit(self, case, *, submission_key: str, replaces_key: str = "", message: str = "") -> SubmissionReceipt:
        if benefit_for(case.order.code_system, case.rule if case.rule_id else None) == Benefit.PHARMACY:
            # The registry routes these to ePA; this is the last guard before the wire.
            raise IntegrationError(
                "A pharmacy-benefit drug is not sent by PAS (CMS-0057-F's API excludes drugs): use the ePA channel.",
                permanent=True,
            )
        client = client_for(case.payer)
        prior = prior_claim(case, replaces_key) if replaces_key else None
        not_sent: list[NotSent] = []
        bundle = build_request_bundle(
            case,
            submission_key=submission_key,
            prior=prior,
            message=message,
            budget=client.connection.max_document_bytes if client.connection else None,
            not_sent=not_sent,
        )
        # Kept before the call: the next update numbers and flags its supportingInfo from it.
        Submission.objects.filter(idempotency_key=submission_key).update(sent_supporting=sent_supporting(bundle))
        body, exchange = _call(client, Exchange.Operation.SUBMIT, case, submission_key, bundle)
        decision = _parse(body, exchange)
        _keep_response_id(submission_key, body)
        documents_not_sent(case=case, submission_key=submission_key, not_sent=not_sent)
        tracking = decision.payer_tracking_id or submission_key
        # A payer that decided at once says so in the $submit answer; "queued" means later.
        final = decision if decision.status != "still_pending" else None
        return SubmissionReceipt(tracking_id=tracking, decision=final, raw_reference=decision.raw_reference)

    def check_status(self, case, *, submission_key: str) -> PayerDecision | None:
        client = client_for(case.payer)
        bundle = build_inquiry_bundle(case, submission_key=submission_key)
        body, exchange = _call(client, Exchange.Operation.INQUIRE, case, submission_key, bundle)
        if not has_claim_response(body):
            return None  # the payer does not know this request (an inquiry answer with no ClaimResponse)
        decision = _parse(body, exchange)
        _keep_response_id(submission_key, body)
        return decision

    def cancel(self, case, *, submission_key: str, cancel_key: str = "", reason: str = "") -> PayerDecision:
        """Withdraw the request sent under `submission_key` with a Claim Update whose
        certification type is 3 (Cancel), posted to `$submit` under its own
        identifier `cancel_key`. Returns the payer's answer (CANCELLED = confirmed)."""
        cancel_key = cancel_key or f"{submission_key}-cancel"
        client = client_for(case.payer)
        bundle = build_cancel_bundle(case, cancel_key=cancel_key, prior=prior_claim(case, submission_key))
        body, exchange = _call(client, Exchange.Operation.CANCEL, case, cancel_key, bundle)
        return _parse(body, exchange)


def documents_not_sent(*, case, submission_key: str, not_sent: list[NotSent]) -> None:
    """Name on the case every document the payer did not get with this request, with a task to send it.

    Nothing is dropped silently: the timeline says which and why, and a coordinator
    task (one per document) asks for it to go by fax or portal.
    """
    for item in not_sent:
        case_event_add(
            case=case,
            kind=CaseEvent.Kind.DOCUMENT,
            message=f"Not sent with the PAS request: {item.title} ({item.reason}). Send it by fax or portal.",
            document_id=item.document_id,
            submission=submission_key,
        )
        task_create(
            case=case,
            kind=Task.Kind.SUBMIT,
            title=f"Send by fax or portal: {item.title} (not sent with the PAS request)",
            detail=f"{item.reason.capitalize()}. Send the document to {case.payer} by fax or its portal, quoting our "
            f"request {submission_key}, and note it on the case.",
            assignee=case.assignee,
            role="" if case.assignee_id else Role.COORDINATOR,
            dedupe_key=f"pas-not-sent-{item.document_id}",
        )


def prior_claim(case, key: str) -> PriorClaim:
    """The request sent under `key`, as an update or a cancellation refers to it."""
    row = Submission.objects.filter(case=case, idempotency_key=key).first()
    if row is not None:
        return PriorClaim(
            key=key,
            supporting=tuple(row.sent_supporting or ()),
            was_update=row.kind == Submission.Kind.UPDATE,
            replaces_key=row.replaces_key,
            created=row.accepted_at or row.created_at,
        )
    # A request we have no row for (submitted before this app tracked it, or by
    # the demo seed): assume it carried the summary and the documents it had then.
    supporting = []
    if case.summary_text:
        supporting.append({"seq": 1, "kind": "summary", "text": case.summary_text[:10000]})
    documents = case.documents.all()
    if case.submitted_at:
        documents = documents.filter(created_at__lte=case.submitted_at)
    for document in documents:
        supporting.append(
            {"seq": len(supporting) + 1, "kind": "document", "document": document.pk, "title": document.title}
        )
    return PriorClaim(key=key, supporting=tuple(supporting), created=case.submitted_at)


def _call(client: PasClient, operation: str, case, submission_key: str, bundle: dict) -> tuple[dict, Exchange]:
    # The row exists before the call, so a crash mid-call still leaves a trace.
    posts = operation in (Exchange.Operation.SUBMIT, Exchange.Operation.CANCEL)
    exchange = Exchange.objects.create(
        case=case,
        payer_id=case.payer_id,
        # Only a submit or cancel is tied to its row; an inquiry is found by case (saves a query per poll).
        submission=Submission.objects.filter(idempotency_key=submission_key).first() if posts else None,
        operation=operation,
        url=client.url("submit" if posts else operation)[:300],
    )
    try:
        status, body = (client.submit if posts else client.inquire)(bundle)
    except IntegrationError as exc:
        exchange.result = Exchange.Result.ERROR
        exchange.error = str(exc)[:2000]
        exchange.finished_at = timezone.now()
        exchange.save(update_fields=["result", "error", "finished_at"])
        raise
    exchange.result = Exchange.Result.OK
    exchange.http_status = status
    exchange.response = body
    exchange.finished_at = timezone.now()
    exchange.save(update_fields=["result", "http_status", "response", "finished_at"])
    return body, exchange


def response_id(body: dict) -> str:
    """The id of the (first) ClaimResponse in a PAS answer: its id, else the tail of its fullUrl."""
    try:
        body = response_bundle(body)
    except PasResponseError:
        return ""
    for entry in body.get("entry") or []:
        resource = (entry or {}).get("resource") or {}
        if resource.get("resourceType") == "ClaimResponse":
            rid = resource.get("id") or str(entry.get("fullUrl") or "").rstrip("/").split("/")[-1].split(":")[-1]
            return str(rid)[:64]
    return ""


def _keep_response_id(submission_key: str, body: dict) -> None:
    # A subscription notification names the ClaimResponse, not our request: keep its id to match.
    rid = response_id(body)
    if rid:
        Submission.objects.filter(idempotency_key=submission_key).exclude(payer_response_id=rid).update(
            payer_response_id=rid
        )


def _parse(body: dict, exchange: Exchange) -> PayerDecision:
    try:
        decision = parse_claim_response(body)
    except PasResponseError as exc:
        Exchange.objects.filter(pk=exchange.pk).update(result=Exchange.Result.ERROR, error=str(exc)[:2000])
        raise
    return replace(decision, raw_reference=f"submission.Exchange/{exchange.pk}")
