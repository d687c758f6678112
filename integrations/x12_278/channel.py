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

from django.db import IntegrityError, transaction
from django.utils import timezone

from integrations.base import (
    ChannelBase,
    DecisionStatus,
    IntegrationError,
    PayerDecision,
    SubmissionReceipt,
)
from integrations.submission.models import Exchange, Submission
from integrations.x12_278 import request as x12req
from integrations.x12_278 import transport
from integrations.x12_278.models import Clearinghouse, Interchange, PayerRoute
from integrations.x12_278.parse import X12Rejected, X12ResponseError, parse_278_response
from integrations.x12_278.x12 import Envelope, X12Error


def route_for(case) -> PayerRoute:
    route = PayerRoute.objects.select_related("clearinghouse", "payer").filter(payer_id=case.payer_id).first()
    if route is None or not route.clearinghouse.active:
        raise IntegrationError(
            f"{case.payer or 'The payer'} has no clearinghouse configured for X12 278 (admin → X12 payer routes): "
            "configure one and resubmit, or submit by hand.",
            permanent=True,
        )
    return route


def interchange_for(case, route: PayerRoute, *, kind: str, key: str, body_for) -> Interchange:
    """The interchange for `key`: the stored one (a resend is byte-identical), else a new one with the
    clearinghouse's next control number, written before anything is sent."""
    existing = Interchange.objects.filter(kind=kind, key=key).first()
    if existing is not None:
        return existing
    ch: Clearinghouse = route.clearinghouse
    control = ch.next_control_number()
    try:
        parties = x12req.parties_for(case, route.code)
        body = body_for(parties)
        version = {"278": x12req.X217, "278c": x12req.X217, "278i": x12req.X215, "270": x12req.X279}[kind]
        env = Envelope(
            sender_qualifier=ch.sender_qualifier,
            sender_id=ch.sender_id,
            receiver_qualifier=ch.receiver_qualifier,
            receiver_id=ch.receiver_id,
            interchange_control=control,
            group_control=control,
            functional_id="HS" if kind == "270" else "HI",
            version=version,
            usage="T" if ch.test_mode else "P",
            created=timezone.localtime().replace(tzinfo=None),
        )
        payload = x12req.build(env, body, transaction_code="270" if kind == "270" else "278")
    except X12Error as exc:
        raise IntegrationError(f"The X12 request cannot be built: {exc}", permanent=True) from None
    try:
        with transaction.atomic():
            return Interchange.objects.create(
                clearinghouse=ch,
                case=case,
                kind=kind,
                key=key,
                control_number=control,
                payload_id=transport.new_payload_id(),
                payload=payload,
            )
    except IntegrityError:
        # Another worker built it first (the unique key): send theirs.
        return Interchange.objects.get(kind=kind, key=key)


def exchange_call(
    case, route: PayerRoute, ix: Interchange, operation: str, submission_key: str
) -> tuple[str, Exchange]:
    """Send `ix` through the CORE transport, with an `Exchange` row written before the call."""
    exchange = Exchange.objects.create(
        case=case,
        payer_id=case.payer_id,
        submission=Submission.objects.filter(idempotency_key=submission_key).first()
        if operation != Exchange.Operation.INQUIRE
        else None,
        operation=operation,
        url=route.clearinghouse.endpoint_url[:300],
    )
    try:
        answer = transport.send(
            route.clearinghouse,
            kind=ix.kind if ix.kind != "278c" else "278",
            payload=ix.payload,
            payload_id=ix.payload_id,
        )
    except IntegrationError as exc:
        Exchange.objects.filter(pk=exchange.pk).update(
            result=Exchange.Result.ERROR, error=str(exc)[:2000], finished_at=timezone.now()
        )
        raise
    Interchange.objects.filter(pk=ix.pk).update(response=answer.payload)
    Exchange.objects.filter(pk=exchange.pk).update(
        result=Exchange.Result.OK,
        http_status=answer.http_status,
        response={
            "x12": answer.payload,
            "core": {"PayloadType": answer.payload_type, "PayloadID": answer.payload_id},
            "control_number": ix.control_number,
        },
        finished_at=timezone.now(),
    )
    return answer.payload, exchange


def _decide(text: str, exchange: Exchange) -> PayerDecision:
    try:
        decision = parse_278_response(text)
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
        self._eligibility_if_stale(case, route)
        ix = interchange_for(
            case,
            route,
            kind=Interchange.Kind.REQUEST,
            key=submission_key,
            body_for=lambda p: x12req.request_segments(case, trace=submission_key, parties=p),
        )
        text, exchange = exchange_call(case, route, ix, Exchange.Operation.SUBMIT, submission_key)
        decision = _decide(text, exchange)
        final = decision if decision.status != DecisionStatus.STILL_PENDING else None
        return SubmissionReceipt(
            tracking_id=decision.payer_tracking_id or submission_key,
            decision=final,
            raw_reference=decision.raw_reference,
        )

    def check_status(self, case, *, submission_key: str) -> PayerDecision | None:
        route = route_for(case)
        sent = Interchange.objects.filter(kind=Interchange.Kind.REQUEST, key=submission_key).first()
        if sent is None and not case.payer_tracking_id and not case.authorization_number:
            return None  # nothing was ever sent under this key: the payer cannot know it
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
            return _decide(text, exchange)
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
        return _decide(text, exchange)

    def _eligibility_if_stale(self, case, route: PayerRoute) -> None:
        # Step 2 of the loop, again just before the packet leaves when the last answer is over a day old.
        from integrations.x12_278.eligibility import eligibility_check_if_stale

        eligibility_check_if_stale(case=case, route=route)
