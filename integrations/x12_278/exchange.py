"""One X12 exchange with a clearinghouse: the payer's route, the interchange built (once) for a key, and the
call, written as an `Exchange` row before it is made. Used by the 278 channel and the 270 eligibility check."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.utils import timezone

from integrations.base import IntegrationError
from integrations.submission.models import Exchange, Submission
from integrations.x12_278 import request as x12req
from integrations.x12_278 import transport
from integrations.x12_278.models import Clearinghouse, Interchange, PayerRoute
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
