"""The built-in sandbox clearinghouse (SANDBOX_ENABLED only): a CAQH CORE real-time endpoint on loopback.

`POST /sandbox/clearinghouse/core/` takes the same HTTP MIME multipart envelope a
clearinghouse does, checks it as one would (required fields, RealTime, rule
version, PayloadType, credentials of a `Clearinghouse` row whose SenderID it
is), and answers:

- a 278 request with a 278 response deciding it. The decision is drawn once,
  seeded by the trace number (repeatable), unless the member id ends in a
  review action code (`…-A3`), which tests and the demo use to pick one;
- a pended (A4) request is decided (certified in total) by the first 278
  inquiry at least `X12_SANDBOX_PEND_SECONDS` after the pend;
- a 278 inquiry with the request's current answer (AAA "AA" when unknown);
- a 278 cancel with HCR C;
- a 270 with a 271 from the member's coverage on file (member id containing
  INACTIVE → inactive, NOTFOUND → AAA 75);
- a resend of an interchange it already has (same SenderID and ISA13) with the
  answer it gave then; the same ISA13 with a different payload with a TA1
  rejection (duplicate control number), an unreadable envelope with a TA1, and
  an X12 it does not take with a 999 rejection.
"""

from __future__ import annotations

import hmac
import random
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.db import IntegrityError, transaction
from django.http import Http404, HttpResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from urllib3 import encode_multipart_formdata

from cases.models import Coverage
from integrations.x12_278.models import Clearinghouse, SandboxX12Request
from integrations.x12_278.transport import CORE_RULE_VERSION, PAYLOAD_TYPES, RESPONSE_TYPES
from integrations.x12_278.x12 import Envelope, Interchange, Segment, X12Error, envelope, read_interchange, seg

REQUIRED = ["PayloadType", "ProcessingMode", "PayloadID", "TimeStamp", "SenderID", "ReceiverID", "CORERuleVersion"]
DRAW = ["A1", "A2", "A3", "A4", "A6", "CT", "NA"]
WEIGHTS = [50, 10, 15, 15, 4, 3, 3]
PEND_MESSAGE = "SEND OFFICE NOTES DOCUMENTING 6 WEEKS OF CONSERVATIVE THERAPY"
DENIAL_REASON = "0U"  # HCR03 (X12 1316 health care services review decision reason): not medically necessary


def _envelope_answer(fields: dict, *, payload: str = "", code: str = "Success", message: str = "", status: int = 200):
    answer = {
        "PayloadType": fields.get("_answer_type", "CoreEnvelopeError" if code != "Success" else ""),
        "ProcessingMode": "RealTime",
        "PayloadID": fields.get("PayloadID", ""),
        "TimeStamp": timezone.now().strftime("%Y-%m-%dT%H:%M:%SZ"),
        "SenderID": fields.get("ReceiverID", ""),
        "ReceiverID": fields.get("SenderID", ""),
        "CORERuleVersion": CORE_RULE_VERSION,
        "ErrorCode": code,
        "ErrorMessage": message,
    }
    if payload:
        answer["Payload"] = payload
    body, content_type = encode_multipart_formdata(list(answer.items()))
    return HttpResponse(body, status=status, content_type=content_type)


@csrf_exempt
@login_not_required
@require_POST
def core_endpoint(request):
    if not settings.SANDBOX_ENABLED:
        raise Http404
    fields = {k: request.POST.get(k, "") for k in [*REQUIRED, "Payload", "UserName", "Password"]}
    for name in REQUIRED:
        if not fields[name]:
            return _envelope_answer(fields, code=f"{name}Required", message=f"{name} is required", status=400)
    if fields["ProcessingMode"] != "RealTime":
        return _envelope_answer(fields, code="ProcessingModeIllegal", message="Only RealTime is offered", status=400)
    if fields["CORERuleVersion"] != CORE_RULE_VERSION:
        return _envelope_answer(fields, code="VersionMismatch", message=f"Expected {CORE_RULE_VERSION}", status=400)
    ch = Clearinghouse.objects.filter(sender_id=fields["SenderID"], receiver_id=fields["ReceiverID"]).first()
    if ch is None or not _authorized(ch, fields["UserName"], fields["Password"]):
        return _envelope_answer(fields, code="UnAuthorized", message="Sender not authorized", status=401)
    kind = next((k for k, v in PAYLOAD_TYPES.items() if v == fields["PayloadType"]), None)
    if kind is None:
        return _envelope_answer(fields, code="PayloadTypeIllegal", message="PayloadType not accepted", status=400)
    if not fields["Payload"]:
        return _envelope_answer(fields, code="PayloadRequired", message="Payload is required", status=400)
    fields["_answer_type"] = RESPONSE_TYPES[kind]
    return _envelope_answer(
        fields,
        payload=answer_x12(fields["Payload"], kind=kind, sender=fields["SenderID"], payload_id=fields["PayloadID"]),
    )


def _authorized(ch: Clearinghouse, username: str, password: str) -> bool:
    if ch.auth == Clearinghouse.Auth.CERTIFICATE:
        return True  # loopback has no TLS: the sandbox takes the certificate as presented
    return hmac.compare_digest(username, ch.username) and hmac.compare_digest(password, ch.password())


def answer_x12(text: str, *, kind: str, sender: str, payload_id: str) -> str:
    """The sandbox's X12 answer to one payload (a 278/271, or a TA1/999 rejection)."""
    try:
        ix = read_interchange(text)
    except X12Error:
        return _ta1(control="000000000", note="024", sender=sender)
    tx = ix.transactions()[0] if ix.transactions() else None
    version = ix.groups[0].gs.get(8) if ix.groups else ""
    expected = {"278": ("278", "005010X217"), "278i": ("278", "005010X215"), "270": ("270", "005010X279A1")}[kind]
    if tx is None or (tx.code, version) != expected:
        return _ack_999(ix, sender=sender, ok=False, error=("ST", "1", "6"))
    if kind == "270":
        return _answer_270(ix, tx)
    bht = _first(tx.segments, "BHT")
    um = _first(tx.segments, "UM")
    if kind == "278i":
        return _answer_inquiry(ix, tx)
    if (bht and bht.get(2) == "01") or (um and um.get(2) == "3"):
        return _answer_cancel(ix, tx)
    return _answer_request(ix, tx, payload_id=payload_id)


def _first(segments: list[Segment], tag: str, qualifier: str | None = None) -> Segment | None:
    return next((s for s in segments if s.tag == tag and (qualifier is None or s.get(1) == qualifier)), None)


def _reply_env(ix: Interchange, functional_id: str, version: str) -> Envelope:
    control = random.randint(1, 999_999_999)
    return Envelope(
        sender_qualifier=ix.isa.get(7),
        sender_id=ix.receiver_id,
        receiver_qualifier=ix.isa.get(5),
        receiver_id=ix.sender_id,
        interchange_control=control,
        group_control=control,
        functional_id=functional_id,
        version=version,
        usage=ix.isa.get(15) or "P",
        created=timezone.localtime().replace(tzinfo=None),
    )


def _ta1(*, control: str, note: str, sender: str) -> str:
    now = timezone.localtime()
    isa = seg(
        "ISA",
        "00",
        " " * 10,
        "00",
        " " * 10,
        "ZZ",
        "SANDBOXCH".ljust(15),
        "ZZ",
        sender.ljust(15)[:15],
        now.strftime("%y%m%d"),
        now.strftime("%H%M"),
        "^",
        "00501",
        f"{random.randint(1, 999_999_999):09d}",
        "0",
        "P",
        ":",
    )
    ta1 = seg("TA1", control.rjust(9, "0")[:9], now.strftime("%y%m%d"), now.strftime("%H%M"), "R", note)
    iea = seg("IEA", "0", isa.split("*")[13])
    return "~".join([isa, ta1, iea]) + "~"


def _ack_999(ix: Interchange, *, sender: str, ok: bool, error: tuple[str, str, str] | None = None) -> str:
    gs = ix.groups[0].gs if ix.groups else None
    tx = ix.transactions()[0] if ix.transactions() else None
    body = [seg("AK1", gs.get(1) if gs else "", gs.get(6) if gs else "", gs.get(8) if gs else "")]
    if tx is not None:
        body.append(seg("AK2", tx.code, tx.st.get(2), tx.st.get(3)))
        if error:
            body.append(seg("IK3", error[0], error[1], "", error[2]))
        body.append(seg("IK5", "A" if ok else "R", *([] if ok else ["5"])))
    body.append(seg("AK9", "A" if ok else "R", "1", "1", "1" if ok else "0"))
    return envelope(_reply_env(ix, "FA", "005010X231A1"), body, transaction_code="999")


def _parties(tx) -> list[str]:
    """The request's UMO, requester and subscriber loops, echoed as a response does."""
    out = []
    for s in tx.segments:
        if s.tag == "HL" and s.get(3) not in ("20", "21", "22"):
            break
        if s.tag in ("HL", "NM1"):
            out.append("*".join(s.elements))
    return out


def _action_for(member_id: str, trace: str) -> str:
    suffix = member_id.rsplit("-", 1)[-1] if "-" in member_id else ""
    if suffix in DRAW or suffix == "C":
        return suffix
    return random.Random(trace).choices(DRAW, weights=WEIGHTS)[0]


def _decision_segments(row: SandboxX12Request, tx, *, action: str) -> list[str]:
    sv = next(("*".join(s.elements) for s in tx.segments if s.tag in ("SV1", "SV2")), "")
    service_date = _first(tx.segments, "DTP", "472") or _first(tx.segments, "DTP", "AAH")
    day = service_date.get(3) if service_date else timezone.localdate().strftime("%Y%m%d")
    start = timezone.datetime.strptime(day[:8], "%Y%m%d").date()
    period = f"{start:%Y%m%d}-{start + timedelta(days=89):%Y%m%d}"
    granted = action in ("A1", "A2", "A6")
    hcr = seg(
        "HCR",
        action,
        row.authorization_number if granted else "",
        DENIAL_REASON if action in ("A3", "A2") else "",
    )
    event = [seg("HL", "4", "3", "EV", "1"), seg("TRN", "2", row.trace, "9SANDBOXCH"), seg("UM", "HS", "I", "1"), hcr]
    if granted:
        event += [seg("REF", "BB", row.authorization_number), seg("DTP", "007", "RD8", period)]
        event.append(seg("HSD", "VS", "6" if action == "A1" else "3"))
    if action == "A4":
        event.append(seg("MSG", PEND_MESSAGE))
    if action == "CT":
        event.append(seg("MSG", "CALL THE UTILIZATION MANAGEMENT LINE TO DISCUSS THIS REQUEST"))
    if action == "A3":
        event.append(seg("MSG", "CONSERVATIVE THERAPY NOT DOCUMENTED"))
    service = [seg("HL", "5", "4", "SS", "0"), seg("TRN", "2", f"{row.trace}-1", "9SANDBOXCH"), hcr]
    if granted:
        service += [seg("REF", "BB", row.authorization_number), seg("DTP", "007", "RD8", period)]
    if sv:
        service.append(sv)
    return event + service


def _response(ix: Interchange, tx, row: SandboxX12Request, *, action: str) -> str:
    now = timezone.localtime()
    body = [seg("BHT", "0007", "11", row.trace, now.strftime("%Y%m%d"), now.strftime("%H%M%S")), *_parties(tx)]
    return envelope(
        _reply_env(ix, "HI", "005010X217"), body + _decision_segments(row, tx, action=action), transaction_code="278"
    )


def _answer_request(ix: Interchange, tx, *, payload_id: str) -> str:
    trace_seg = _first(tx.segments, "TRN", "1")
    member = _first(tx.segments, "NM1", "IL")
    if trace_seg is None or member is None:
        return _ack_999(ix, sender=ix.sender_id, ok=False, error=("TRN", "1", "3"))
    prior = SandboxX12Request.objects.filter(sender_id=ix.sender_id, control_number=ix.control_number).first()
    if prior is not None:
        if prior.payload_id == payload_id or prior.trace == trace_seg.get(2):
            return prior.response  # a resend after a lost answer: the same answer
        return _ta1(control=ix.control_number, note="025", sender=ix.sender_id)
    known = SandboxX12Request.objects.filter(trace=trace_seg.get(2)).first()
    if known is not None:
        return known.response  # the same request under a new interchange
    member_id = member.get(9)
    action = _action_for(member_id, trace_seg.get(2))
    row = SandboxX12Request(
        sender_id=ix.sender_id,
        control_number=ix.control_number,
        payload_id=payload_id,
        trace=trace_seg.get(2)[:80],
        member_id=member_id[:80],
        action=action,
        authorization_number=f"SBX{random.Random(trace_seg.get(2)).randint(10**8, 10**9 - 1)}",
    )
    row.response = _response(ix, tx, row, action=action)
    try:
        with transaction.atomic():
            row.save()
    except IntegrityError:
        return SandboxX12Request.objects.get(trace=row.trace).response
    return row.response


def _answer_inquiry(ix: Interchange, tx) -> str:
    trace_seg = _first(tx.segments, "TRN", "1")
    row = SandboxX12Request.objects.filter(trace=trace_seg.get(2) if trace_seg else "").first()
    now = timezone.localtime()
    if row is None:
        body = [
            seg(
                "BHT",
                "0007",
                "11",
                trace_seg.get(2) if trace_seg else "",
                now.strftime("%Y%m%d"),
                now.strftime("%H%M%S"),
            ),
            *_parties(tx),
            seg("HL", "4", "3", "EV", "0"),
            seg("AAA", "N", "", "AA", "N"),
        ]
        return envelope(_reply_env(ix, "HI", "005010X215"), body, transaction_code="278")
    action = row.action
    pend_for = timedelta(seconds=settings.X12_SANDBOX_PEND_SECONDS)
    if action == "A4" and now - row.received_at >= pend_for:
        # The information the payer asked for has had time to arrive (by fax): certified.
        row.action = action = "A1"
        row.decided_after_pend_at = now
        row.save(update_fields=["action", "decided_after_pend_at"])
    body = [seg("BHT", "0007", "11", row.trace, now.strftime("%Y%m%d"), now.strftime("%H%M%S")), *_parties(tx)]
    return envelope(
        _reply_env(ix, "HI", "005010X215"), body + _decision_segments(row, tx, action=action), transaction_code="278"
    )


def _answer_cancel(ix: Interchange, tx) -> str:
    trace_seg = _first(tx.segments, "TRN", "1")
    now = timezone.localtime()
    row = SandboxX12Request(trace=trace_seg.get(2) if trace_seg else "", authorization_number="")
    body = [seg("BHT", "0007", "11", row.trace, now.strftime("%Y%m%d"), now.strftime("%H%M%S")), *_parties(tx)]
    # The cancellation repeats the request's trace number: that request is withdrawn.
    SandboxX12Request.objects.filter(trace=row.trace).update(action="C")
    body += [seg("HL", "4", "3", "EV", "0"), seg("TRN", "2", row.trace, "9SANDBOXCH"), seg("HCR", "C")]
    return envelope(_reply_env(ix, "HI", "005010X217"), body, transaction_code="278")


def _answer_270(ix: Interchange, tx) -> str:
    member = _first(tx.segments, "NM1", "IL")
    trace = _first(tx.segments, "TRN", "1")
    member_id = member.get(9) if member else ""
    now = timezone.localtime()
    body = [seg("BHT", "0022", "11", trace.get(2) if trace else "", now.strftime("%Y%m%d"), now.strftime("%H%M"))]
    source = [s for s in tx.segments if s.tag in ("HL", "NM1")][:4]
    body += ["*".join(s.elements) for s in source]
    body.append(seg("HL", "3", "2", "22", "0"))
    if trace is not None:
        body.append(seg("TRN", "2", trace.get(2), trace.get(3)))
    body.append("*".join(member.elements) if member else seg("NM1", "IL", "1"))
    coverage = Coverage.objects.select_related("plan").filter(member_id__iexact=member_id).first()
    if "NOTFOUND" in member_id.upper() or coverage is None:
        body.append(seg("AAA", "Y", "", "75", "C"))
    elif "INACTIVE" in member_id.upper():
        body += [seg("EB", "6", "", "30"), seg("MSG", "COVERAGE TERMINATED")]
    else:
        if coverage.group_number:
            body.append(seg("REF", "6P", coverage.group_number, coverage.plan.name if coverage.plan_id else ""))
        span = f"{coverage.start:%Y%m%d}" + (f"-{coverage.end:%Y%m%d}" if coverage.end else "")
        body.append(seg("DTP", "346" if not coverage.end else "291", "D8" if not coverage.end else "RD8", span))
        body.append(seg("EB", "1", "IND", "30", "", coverage.plan.name.upper() if coverage.plan_id else "MEDICAL"))
    return envelope(_reply_env(ix, "HB", "005010X279A1"), body, transaction_code="271")
