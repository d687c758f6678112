"""Reading what comes back: a 278 response (→ `PayerDecision`), a 999 or TA1 acknowledgment, a 271.

Everything here raises `X12ResponseError` (a `PayerResponseUnreadable`) for an
answer it cannot read, and `X12Rejected` (a permanent `IntegrationError`) when
the clearinghouse or payer refused our request (TA1 or 999 rejection, AAA): both
leave the case as it was; the engine turns the second into a staff task.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from integrations.base import (
    DecisionStatus,
    IntegrationError,
    ItemDecision,
    PayerDecision,
    PayerResponseUnreadable,
)
from integrations.x12_278.x12 import Interchange, Segment, Separators, Transaction, X12Error, read_interchange

# HCR01 (X12 306 action codes) → the shared decision.
ACTION = {
    "A1": DecisionStatus.APPROVED,  # certified in total
    "A2": DecisionStatus.PARTIALLY_APPROVED,  # certified partial
    "A3": DecisionStatus.DENIED,  # not certified
    "A4": DecisionStatus.PENDED,  # pended
    "A6": DecisionStatus.PARTIALLY_APPROVED,  # modified
    "C": DecisionStatus.CANCELLED,  # cancelled
    "CT": DecisionStatus.CONTACT_PAYER,  # contact payer
    "NA": DecisionStatus.NOT_REQUIRED,  # no action required
}
# AAA04 follow-up action codes (X12 889).
FOLLOW_UP = {
    "C": "please correct and resubmit",
    "N": "resubmission not allowed",
    "P": "please resubmit original transaction",
    "R": "resubmission allowed",
    "S": "do not resubmit; inquiry initiated to a third party",
    "W": "please wait 30 days and resubmit",
    "X": "please wait 10 days and resubmit",
    "Y": "do not resubmit; we will hand over the request",
}
# AAA03 reject reasons most often met on a 278 or 271 (X12 901); others are shown by code.
REJECT_REASON = {
    "04": "authorized quantity exceeded",
    "15": "required application data missing",
    "33": "input errors",
    "35": "out of network",
    "41": "authorization/access restrictions",
    "42": "unable to respond at current time",
    "43": "invalid/missing provider identification",
    "44": "invalid/missing provider name",
    "45": "invalid/missing provider specialty",
    "51": "provider not on file",
    "52": "service dates not within provider plan enrollment",
    "56": "inappropriate date",
    "57": "invalid/missing date(s) of service",
    "58": "invalid/missing date of birth",
    "60": "date of birth follows date(s) of service",
    "62": "date of death precedes date(s) of service",
    "63": "date of service not within allowable inquiry period",
    "64": "invalid/missing patient ID",
    "65": "invalid/missing patient name",
    "67": "patient not found",
    "68": "duplicate patient ID number",
    "71": "patient birth date does not match that for the patient on the database",
    "72": "invalid/missing subscriber/insured ID",
    "73": "invalid/missing subscriber/insured name",
    "75": "subscriber/insured not found",
    "76": "duplicate subscriber/insured ID number",
    "79": "invalid participant identification",
    "T4": "payer name or identifier missing",
    "T5": "certification information missing",
    "AA": "authorization number not found",
    "AF": "invalid/missing diagnosis code(s)",
    "AG": "invalid/missing procedure code(s)",
}
# 999 IK5/AK9 and TA1 acknowledgment codes.
ACCEPTED_CODES = {"A", "E"}  # E: accepted with errors noted — the payer will still answer
TA1_NOTE = {
    "000": "no error",
    "001": "the interchange control numbers in the header and trailer do not match",
    "006": "invalid interchange sender id qualifier",
    "007": "invalid interchange sender id",
    "008": "invalid interchange receiver id qualifier",
    "009": "unknown interchange receiver id",
    "014": "invalid interchange date",
    "018": "invalid interchange control number",
    "022": "invalid control structure",
    "024": "invalid interchange content",
    "025": "duplicate interchange control number",
}


class X12ResponseError(PayerResponseUnreadable):
    """The answer is not an interchange we can read (or not the one we expected). Nothing was applied."""


class X12Rejected(IntegrationError):
    """The clearinghouse or payer refused the request itself (TA1, 999 rejection, AAA): fix and resend, or call."""

    def __init__(self, message: str, *, permanent: bool = True, codes: tuple[str, ...] = ()):
        super().__init__(message, permanent=permanent)
        self.codes = codes


def read(text: str) -> Interchange:
    try:
        return read_interchange(text)
    except X12Error as exc:
        raise X12ResponseError(f"The clearinghouse's answer is not a readable X12 interchange: {exc}") from None


def _date(value: str) -> date | None:
    try:
        return datetime.strptime(value, "%Y%m%d").date()
    except (TypeError, ValueError):
        return None


def _period(segment: Segment) -> tuple[date | None, date | None]:
    fmt, value = segment.get(2), segment.get(3)
    if fmt == "RD8" and "-" in value:
        start, _, end = value.partition("-")
        return _date(start), _date(end)
    if fmt == "D8":
        return _date(value), None
    return None, None


def _aaa_text(segment: Segment) -> tuple[str, str]:
    code, follow = segment.get(3), segment.get(4)
    reason = REJECT_REASON.get(code, "")
    words = f"rejected, reason {code}" + (f" ({reason})" if reason else "")
    if follow:
        words += f"; follow-up {follow}: {FOLLOW_UP.get(follow, 'see the payer')}"
    return code, words


def check_acknowledgments(ix: Interchange, *, expected: str) -> None:
    """A TA1 or 999 where a `expected` transaction (278, 271) was wanted: read and report it.

    A rejection is a permanent `X12Rejected` with the codes the acknowledgment gave;
    an accepted 999 alone is an answer without the payer's decision (unreadable, retried).
    """
    for ta1 in ix.ta1:
        if ta1.get(4) != "A":
            note = ta1.get(5)
            raise X12Rejected(
                f"The clearinghouse rejected interchange {ta1.get(1)} (TA1 {ta1.get(4)}, note {note}: "
                f"{TA1_NOTE.get(note, 'see the clearinghouse')}). Fix the clearinghouse settings and resend.",
                codes=(f"TA1-{note}",),
            )
    acks = [t for t in ix.transactions() if t.code == "999"]
    for ack in acks:
        errors = []
        status = ""
        for s in ack.segments:
            if s.tag == "IK3":
                errors.append(f"segment {s.get(1)} at position {s.get(2)} (error {s.get(4)})")
            elif s.tag == "IK4":
                errors.append(f"element {s.get(1)} (error {s.get(3)}{', value ' + s.get(4) if s.get(4) else ''})")
            elif s.tag in ("IK5", "AK9"):
                status = status if status == "R" else s.get(1)
        if status and status not in ACCEPTED_CODES:
            raise X12Rejected(
                f"The clearinghouse rejected the {expected} as malformed (999 {status}): "
                + ("; ".join(errors) or "no details given")
                + ". Fix the case's data and resend, or send it by hand.",
                codes=tuple(errors),
            )
    if not [t for t in ix.transactions() if t.code == expected]:
        if ix.ta1 and not acks:
            raise X12ResponseError(f"The clearinghouse answered with a TA1 acknowledgment only, not a {expected}.")
        if acks:
            raise X12ResponseError(f"The clearinghouse answered with a 999 acknowledgment only, not a {expected}.")
        found = ", ".join(sorted({t.code for t in ix.transactions()})) or "none"
        raise X12ResponseError(f"Expected a {expected} transaction; the answer holds {found}.")


@dataclass
class _Loop:
    level: str
    segments: list[Segment]


def _loops(tx: Transaction) -> tuple[list[Segment], list[_Loop]]:
    head: list[Segment] = []
    loops: list[_Loop] = []
    for s in tx.segments:
        if s.tag == "HL":
            loops.append(_Loop(level=s.get(3), segments=[]))
        elif loops:
            loops[-1].segments.append(s)
        else:
            head.append(s)
    return head, loops


def parse_278_response(text: str) -> PayerDecision:
    """The payer's answer in a 278 response (or an X215 inquiry response), as the shared decision.

    Raises `X12ResponseError` when the text cannot be read or holds no 278,
    `X12Rejected` for a TA1/999 rejection or an AAA on the request as a whole
    (its reason and follow-up codes in the message).
    """
    ix = read(text)
    check_acknowledgments(ix, expected="278")
    tx = next(t for t in ix.transactions() if t.code == "278")
    head, loops = _loops(tx)
    bht = next((s for s in head if s.tag == "BHT"), None)
    if bht is None:
        raise X12ResponseError("The 278 has no BHT segment.")
    if bht.get(2) != "11":  # 11 response; 13 is a request, 01 a cancellation request
        raise X12ResponseError(f"BHT02 {bht.get(2)} is not a 278 response.")
    decided_at = _stamp(bht.get(4), bht.get(5))

    rejections = []
    event: _Loop | None = None
    services: list[_Loop] = []
    for loop in loops:
        for s in loop.segments:
            # AAA01 says whether the request was valid (Y) or not (N); either way the AAA rejects it.
            if s.tag == "AAA":
                rejections.append((loop.level, s))
        if loop.level == "EV" and event is None:
            event = loop
        elif loop.level == "SS":
            services.append(loop)
    event_hcr = _first(event, "HCR") if event else None
    item_hcrs = [_first(s, "HCR") for s in services]
    if rejections and event_hcr is None and not any(item_hcrs):
        level, aaa = rejections[0]
        code, words = _aaa_text(aaa)
        where = {"20": "payer", "21": "requester", "22": "subscriber", "23": "patient", "EV": "request"}.get(
            level, "service"
        )
        raise X12Rejected(
            f"The payer {words} (at the {where} level). "
            + (
                "Correct the case and send it again."
                if aaa.get(4) in ("C", "R", "P")
                else "Call the payer before sending it again."
            ),
            permanent=aaa.get(4) not in ("W", "X") and code != "42",
            codes=(code, aaa.get(4)),
        )
    if event_hcr is None and not any(item_hcrs):
        raise X12ResponseError("The 278 response has no HCR decision (patient event or service level).")

    items = []
    for seq, (service, hcr) in enumerate(zip(services, item_hcrs, strict=True), start=1):
        if hcr is None:
            continue
        start, end = _cert_period(service)
        units = _quantity(service)
        items.append(
            ItemDecision(
                sequence=seq,
                status=ACTION.get(hcr.get(1), DecisionStatus.STILL_PENDING),
                review_action_code=hcr.get(1),
                authorization_number=_ref(service, "BB") or hcr.get(2),
                effective_start=start,
                effective_end=end,
                units_approved=units,
                reason_code=hcr.get(3),
            )
        )
    code = event_hcr.get(1) if event_hcr is not None else _overall([i.review_action_code for i in items])
    if code not in ACTION:
        raise X12ResponseError(f"HCR01 action code '{code}' is not one we know.")
    status = ACTION[code]
    scope = event or (services[0] if services else None)
    start, end = _cert_period(scope) if scope else (None, None)
    if start is None and items:
        start = min((i.effective_start for i in items if i.effective_start), default=None)
        end = max((i.effective_end for i in items if i.effective_end), default=None)
    units = _quantity(scope) if scope else None
    if units is None and len(items) == 1:
        units = items[0].units_approved
    auth = (_ref(scope, "BB") if scope else "") or (event_hcr.get(2) if event_hcr is not None else "")
    if not auth and items:
        auth = next((i.authorization_number for i in items if i.authorization_number), "")
    reason = event_hcr.get(3) if event_hcr is not None else next((i.reason_code for i in items if i.reason_code), "")
    messages = [m for loop in loops for m in (s.get(1) for s in loop.segments if s.tag == "MSG") if m]
    trace = _trace(event) if event else ""
    admin = _ref(scope, "NT") if scope else ""
    return PayerDecision(
        status=status,
        authorization_number=auth if status in (DecisionStatus.APPROVED, DecisionStatus.PARTIALLY_APPROVED) else "",
        effective_start=start,
        effective_end=end,
        units_approved=units,
        items=tuple(items),
        reason_code=reason,
        reason_text=" ".join(messages)[:2000],
        info_requested=tuple(messages) if status == DecisionStatus.PENDED else (),
        payer_tracking_id=admin or auth or trace,
        review_action_code=code,
        decided_at=decided_at,
        shape="x12-278",
    )


def _overall(codes: list[str]) -> str:
    """The case's answer from its services' answers when the payer gave none for the event."""
    unique = set(codes)
    if len(unique) == 1:
        return codes[0]
    if "A1" in unique or "A2" in unique or "A6" in unique:
        return "A2"  # some certified, some not: partial
    for code in ("A4", "CT", "A3", "C", "NA"):
        if code in unique:
            return code
    return codes[0] if codes else ""


def _first(loop: _Loop | None, tag: str) -> Segment | None:
    if loop is None:
        return None
    return next((s for s in loop.segments if s.tag == tag), None)


def _ref(loop: _Loop, qualifier: str) -> str:
    return next((s.get(2) for s in loop.segments if s.tag == "REF" and s.get(1) == qualifier), "")


def _trace(loop: _Loop) -> str:
    # A response repeats our TRN*1 as TRN*2 (referenced) and may add its own TRN*1.
    return next((s.get(2) for s in loop.segments if s.tag == "TRN" and s.get(1) == "1"), "")


def referenced_traces(text: str) -> list[str]:
    """Our trace numbers an answer refers to (TRN*2), to match it to the request."""
    ix = read(text)
    return [s.get(2) for t in ix.transactions() for s in t.segments if s.tag == "TRN" and s.get(1) == "2"]


def _cert_period(loop: _Loop) -> tuple[date | None, date | None]:
    # 007 certification effective (a range or its first day), 036 expiration; else the service dates (472).
    start = end = None
    for s in loop.segments:
        if s.tag != "DTP":
            continue
        if s.get(1) == "007":
            a, b = _period(s)
            start, end = a, b or end
        elif s.get(1) == "036":
            end = _period(s)[0]
    if start is None:
        for s in loop.segments:
            if s.tag == "DTP" and s.get(1) in ("472", "AAH"):
                start, b = _period(s)
                end = end or b
                break
    return start, end


def _quantity(loop: _Loop) -> float | None:
    for s in loop.segments:
        if s.tag == "HSD" and s.get(2):
            try:
                return float(s.get(2))
            except ValueError:
                return None
    return None


def _stamp(day: str, hm: str) -> datetime | None:
    from django.utils import timezone

    try:
        naive = datetime.strptime(day + (hm[:4] or "0000"), "%Y%m%d%H%M")
    except ValueError:
        return None
    return timezone.make_aware(naive, timezone.get_current_timezone())


# --- 271 ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Eligibility:
    result: str  # active | inactive | not_found | rejected
    plan_name: str = ""
    group_number: str = ""
    coverage_start: date | None = None
    coverage_end: date | None = None
    payer_words: str = ""


# EB01 eligibility or benefit information (X12 1390): 1-5 active; 6 inactive, 7 inactive pending,
# 8 inactive pending investigation; V cannot process.
EB_ACTIVE = {"1", "2", "3", "4", "5"}
EB_INACTIVE = {"6", "7", "8"}


def parse_271(text: str) -> Eligibility:
    """A 271's answer: active (with plan, group and dates), inactive, not found, or rejected (AAA)."""
    ix = read(text)
    check_acknowledgments(ix, expected="271")
    tx = next(t for t in ix.transactions() if t.code == "271")
    _, loops = _loops(tx)
    subscriber = [seg for loop in loops if loop.level in ("22", "23") for seg in loop.segments]
    for loop in loops:
        for s in loop.segments:
            if s.tag == "AAA":
                code, words = _aaa_text(s)
                result = "not_found" if code in ("67", "75") else "rejected"
                return Eligibility(result=result, payer_words=f"The payer {words}.")
    ebs = [s for s in subscriber if s.tag == "EB"]
    if not ebs:
        raise X12ResponseError("The 271 has no EB (eligibility) segment for the member.")
    plan = next((s.get(5) for s in ebs if s.get(5)), "")
    group = next((s.get(2) for s in subscriber if s.tag == "REF" and s.get(1) in ("6P", "18")), "")
    start = end = None
    for s in subscriber:
        if s.tag == "DTP" and s.get(1) in ("346", "356", "291", "307"):
            a, b = _period(s)
            if s.get(1) == "346" or (s.get(2) == "RD8" and start is None):
                start, end = a, b or end
            elif s.get(1) == "356":
                start = start or a
    messages = " ".join(s.get(1) for s in subscriber if s.tag == "MSG" and s.get(1))
    codes = [s.get(1) for s in ebs]
    if any(c in EB_ACTIVE for c in codes):
        result = "active"
    elif any(c in EB_INACTIVE for c in codes):
        result = "inactive"
    else:
        result = "rejected"
        messages = messages or f"The payer could not process the inquiry (EB01 {codes[0]})."
    return Eligibility(
        result=result,
        plan_name=plan[:120],
        group_number=group[:50],
        coverage_start=start,
        coverage_end=end,
        payer_words=messages[:2000],
    )


__all__ = ["parse_278_response", "parse_271", "Separators"]
