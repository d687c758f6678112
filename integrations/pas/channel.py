"""The Da Vinci PAS channel: `PayerChannel` over FHIR `Claim/$submit` and `Claim/$inquire`."""

from __future__ import annotations

from django.utils import timezone

from integrations.base import IntegrationError, PayerDecision, SubmissionReceipt
from integrations.pas.bundle import build_inquiry_bundle, build_request_bundle
from integrations.pas.client import PasClient
from integrations.pas.models import Exchange, Submission
from integrations.pas.parse import PasResponseError, parse_claim_response


class PasChannel:
    name = "pas"

    def submit(self, case, *, submission_key: str) -> SubmissionReceipt:
        client = PasClient(case.payer.fhir_base_url)
        bundle = build_request_bundle(case, submission_key=submission_key)
        body, exchange = _call(client, Exchange.Operation.SUBMIT, case, submission_key, bundle)
        decision = _parse(body, exchange)
        tracking = decision.payer_tracking_id or submission_key
        # A payer that decided at once says so in the $submit answer; "queued" means later.
        final = decision if decision.status != "still_pending" else None
        return SubmissionReceipt(tracking_id=tracking, decision=final, raw_reference=decision.raw_reference)

    def check_status(self, case, *, submission_key: str) -> PayerDecision | None:
        client = PasClient(case.payer.fhir_base_url)
        bundle = build_inquiry_bundle(case, submission_key=submission_key)
        body, exchange = _call(client, Exchange.Operation.INQUIRE, case, submission_key, bundle)
        if body.get("resourceType") == "Bundle" and not body.get("entry"):
            return None  # the payer does not know this request
        return _parse(body, exchange)

    def cancel(self, case, *, submission_key: str) -> None:
        # PAS cancels by resubmitting the Claim with status "cancelled"; not offered yet.
        raise IntegrationError("Cancelling through PAS is not supported yet: call the payer.", permanent=True)


def _call(client: PasClient, operation: str, case, submission_key: str, bundle: dict) -> tuple[dict, Exchange]:
    # The row exists before the call, so a crash mid-call still leaves a trace.
    exchange = Exchange.objects.create(
        case=case,
        payer_id=case.payer_id,
        # Only a submit is tied to its row; an inquiry is found by case (saves a query per poll).
        submission=(
            Submission.objects.filter(idempotency_key=submission_key).first()
            if operation == Exchange.Operation.SUBMIT
            else None
        ),
        operation=operation,
        url=client.url(operation)[:300],
    )
    try:
        status, body = (client.submit if operation == Exchange.Operation.SUBMIT else client.inquire)(bundle)
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


def _parse(body: dict, exchange: Exchange) -> PayerDecision:
    try:
        decision = parse_claim_response(body)
    except PasResponseError as exc:
        Exchange.objects.filter(pk=exchange.pk).update(result=Exchange.Result.ERROR, error=str(exc)[:2000])
        raise
    from dataclasses import replace

    return replace(decision, raw_reference=f"pas.Exchange/{exchange.pk}")
