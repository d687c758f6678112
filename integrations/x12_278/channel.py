"""The X12 278 channel: `PayerChannel` over a clearinghouse's CAQH CORE real-time endpoint.

A payer is reached this way when it has an X12 route (admin → X12 payer routes:
which clearinghouse, the payer's id there). A payer on the X12 channel with no
route cannot be sent automatically: submit fails permanently with a message
that says so, and the engine gives the coordinator its "fix and resubmit, or
submit by hand" task (recording it as sent by hand then follows it up like any
request sent by hand). We chose this over silently working such payers by hand,
so a missing route is seen and fixed once rather than hidden case by case.

Idempotency: the submission key is the 278's trace number (TRN02) and BHT03;
the interchange built for it is stored with its control number and PayloadID
before it is sent, and a retry sends that same interchange again, so a
clearinghouse that already took it answers with what it answered the first time.
"""

from __future__ import annotations

from dataclasses import replace

from django.utils import timezone

from integrations.base import ChannelBase, DecisionStatus, IntegrationError, PayerDecision, SubmissionReceipt
from integrations.submission.models import Exchange
from integrations.x12_278 import request as x12req
from integrations.x12_278.eligibility import eligibility_check_if_stale
from integrations.x12_278.exchange import exchange_call, interchange_for, route_for
from integrations.x12_278.models import Interchange
from integrations.x12_278.parse import X12Rejected, X12ResponseError, parse_278_response, referenced_traces
from integrations.x12_278.x12 import clean


def _decide(text: str, exchange: Exchange, trace: str) -> PayerDecision:
    try:
        decision = parse_278_response(text)
        # The answer names the request it answers (TRN*2 = our trace): another request's answer is not ours.
        referenced = referenced_traces(text)
        if referenced and clean(trace) not in referenced:
            raise X12ResponseError(f"The 278 answers trace {', '.join(referenced)}, not ours ({clean(trace)}).")
    except (X12ResponseError, X12Rejected) as exc:
        Exchange.objects.filter(pk=exchange.pk).update(result=Exchange.Result.ERROR, error=str(exc)[:2000])
        raise
    return replace(decision, raw_reference=f"submission.Exchange/{exchange.pk}")


class X12Channel(ChannelBase):
    name = "x12_278"
    automated = True
    can_poll = True  # a 278 inquiry (X215)
    can_update = False  # X217 has no "additional information" request: staff send it by fax or portal
    can_cancel = True  # a 278 with UM02 = 3 (cancel)

    def submit(self, case, *, submission_key: str, replaces_key: str = "", message: str = "") -> SubmissionReceipt:
        route = route_for(case)
        if replaces_key:
            # can_update is False, so the engine does not send updates here; say so if it ever does.
            raise IntegrationError(
                "A 278 cannot carry additional information: send it by fax or portal.", permanent=True
            )
        # Step 2 of the loop again, just before the request leaves, when the last answer is over a day old.
        eligibility_check_if_stale(case=case, route=route)
        ix = interchange_for(
            case,
            route,
            kind=Interchange.Kind.REQUEST,
            key=submission_key,
            body_for=lambda p: x12req.request_segments(case, trace=submission_key, parties=p),
        )
        text, exchange = exchange_call(case, route, ix, Exchange.Operation.SUBMIT, submission_key)
        decision = _decide(text, exchange, submission_key)
        final = decision if decision.status != DecisionStatus.STILL_PENDING else None
        return SubmissionReceipt(
            tracking_id=decision.payer_tracking_id or submission_key,
            decision=final,
            raw_reference=decision.raw_reference,
        )

    def check_status(self, case, *, submission_key: str) -> PayerDecision | None:
        route = route_for(case)
        # Asked even when we never sent a 278 under this key: the payer may have it from staff (by hand)
        # or the demo seed; one it does not know answers with an AAA, which is None here.
        ix = interchange_for(
            case,
            route,
            kind=Interchange.Kind.INQUIRY,
            key=f"{submission_key}@{timezone.now().timestamp():.6f}",
            body_for=lambda p: x12req.inquiry_segments(
                case, trace=submission_key, parties=p, prior_auth=case.authorization_number
            ),
        )
        text, exchange = exchange_call(case, route, ix, Exchange.Operation.INQUIRE, submission_key)
        try:
            return _decide(text, exchange, submission_key)
        except X12Rejected as exc:
            # The payer has no such request (AAA on the inquiry): the engine counts it as unknown.
            Exchange.objects.filter(pk=exchange.pk).update(error=str(exc)[:2000])
            return None

    def cancel(self, case, *, submission_key: str, cancel_key: str = "", reason: str = "") -> PayerDecision:
        """A 278 cancel (BHT02 01, UM02 3) under its own trace `cancel_key`, naming the request's
        authorization number when there is one. CANCELLED (HCR01 C) = the payer confirms."""
        cancel_key = cancel_key or f"{submission_key}-cancel"
        route = route_for(case)
        ix = interchange_for(
            case,
            route,
            kind=Interchange.Kind.CANCEL,
            key=cancel_key,
            body_for=lambda p: x12req.request_segments(
                case,
                trace=submission_key,
                parties=p,
                cancel=True,
                prior_auth=case.authorization_number,
                reference=cancel_key,
            ),
        )
        text, exchange = exchange_call(case, route, ix, Exchange.Operation.CANCEL, cancel_key)
        return _decide(text, exchange, submission_key)
