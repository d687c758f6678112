"""The 278 we send: request and cancel (005010X217) and status inquiry (005010X215), built from the case.

Loops (HL03): 20 UMO (2000A, NM1*X3), 21 requester (2000B, NM1*1P with the NPI),
22 subscriber (2000C, NM1*IL with the member id, DMG), 23 dependent (2000D) —
never written, because a case's coverage is the patient's own (`Coverage` has no
subscriber relationship) — EV patient event (2000E: TRN, UM, HI, DTP, HSD, PWK,
NM1*SJ service provider) and SS service (2000F: TRN, UM, DTP, SV1 or SV2, HSD).
Minimum necessary: name, birth date and member id; no chart text.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from cases.models import Order, PriorAuthCase, Urgency
from integrations.x12_278.x12 import Envelope, X12Error, clean, comp, envelope, read_interchange, seg

X217 = "005010X217"
X215 = "005010X215"
X279 = "005010X279A1"

# UM06 level of service: U urgent (expedited review), E elective (standard).
LEVEL_OF_SERVICE = {Urgency.EXPEDITED: "U", Urgency.STANDARD: "E"}
# UM02 certification type: I initial, 3 cancel.
CERT_INITIAL, CERT_CANCEL = "I", "3"
# SV1 (professional) unit codes the 278 allows: UN units, MJ minutes; days (DA) and visits go in HSD.
SV1_UNITS = {"UN", "MJ"}
# Sites of service billed on the institutional (SV2) line: inpatient and outpatient hospital, SNF.
INSTITUTIONAL_POS = {"21", "22", "31", "51", "61"}
# PWK01 report type for documents sent separately: 77 support data for verification; PWK02 FX by fax.
PWK_REPORT, PWK_FAX = "77", "FX"


@dataclass(frozen=True)
class Parties:
    payer_name: str
    payer_code: str
    requester_name: str
    requester_npi: str
    trace_company: str  # TRN03: "1" + EIN, or "9" + another id of ours


def parties_for(case: PriorAuthCase, payer_code: str) -> Parties:
    practice = case.practice
    if not payer_code:
        raise X12Error(f"{case.payer} has no payer id at the clearinghouse: set it on the payer or its X12 route.")
    npi = practice.npi or case.order.ordering_provider.npi
    if not npi:
        raise X12Error("The practice has no NPI: the 278 requester (2010B) needs one.")
    tax = "".join(ch for ch in practice.tax_id if ch.isdigit())
    return Parties(
        payer_name=clean(case.payer.name)[:60],
        payer_code=clean(payer_code)[:80],
        requester_name=clean(practice.name)[:60],
        requester_npi=npi,
        # TRN03 is 10 characters: "1" + EIN, else "9" + an id of ours (the NPI's first nine digits).
        trace_company=f"1{tax}" if len(tax) == 9 else f"9{npi[:9]}",
    )


def _head(case: PriorAuthCase, p: Parties) -> list[str]:
    patient = case.patient
    coverage = case.order.coverage or patient.coverages.filter(payer=case.payer).first()
    if coverage is None:
        raise X12Error("The case has no coverage: the 278 subscriber loop needs a member id.")
    return [
        seg("HL", "1", "", "20", "1"),
        seg("NM1", "X3", "2", p.payer_name, "", "", "", "", "PI", p.payer_code),
        seg("HL", "2", "1", "21", "1"),
        seg("NM1", "1P", "2", p.requester_name, "", "", "", "", "XX", p.requester_npi),
        seg("HL", "3", "2", "22", "1"),
        seg(
            "NM1",
            "IL",
            "1",
            clean(patient.last_name)[:60],
            clean(patient.first_name)[:35],
            "",
            "",
            "",
            "MI",
            clean(coverage.member_id)[:80],
        ),
        seg("DMG", "D8", patient.birth_date.strftime("%Y%m%d")),
    ]


def _service_line(order: Order) -> str:
    code = clean(order.code)
    qualifier = {"CPT": "HC", "HCPCS": "HC", "NDC": "N4"}.get(order.code_system, "HC")
    quantity = _quantity(order.quantity)
    if order.site_of_service in INSTITUTIONAL_POS:
        # SV2: revenue code unknown here (the payer takes the procedure in SV202), units and quantity.
        return seg("SV2", "", comp(qualifier, code), "", "UN", quantity)
    unit = order.units if order.units in SV1_UNITS else "UN"
    return seg("SV1", comp(qualifier, code), "", unit, quantity)


def _hsd(order: Order) -> str | None:
    # Days and visits are asked for in HSD (HSD01 DY days, VS visits); units ride on the service line.
    qualifier = {"DA": "DY", "VS": "VS"}.get(order.units)
    return seg("HSD", qualifier, _quantity(order.quantity)) if qualifier else None


def _quantity(value) -> str:
    return format(Decimal(str(value)).normalize(), "f")


def request_segments(
    case: PriorAuthCase,
    *,
    trace: str,
    parties: Parties,
    cancel: bool = False,
    prior_auth: str = "",
    reference: str = "",
) -> list[str]:
    """The body (BHT … last 2000F segment) of a 278 request, or of its cancellation.

    `trace` is the request's trace number (TRN02): a cancellation repeats the
    request's own, so the payer knows which request it withdraws, and carries
    its own `reference` in BHT03 (and the authorization number, if any, in REF*BB).
    """
    order = case.order
    event_date = order.service_date.strftime("%Y%m%d")
    level = LEVEL_OF_SERVICE.get(case.urgency, "E")
    pos = order.site_of_service or "11"
    body = [
        # BHT02 13 request, 01 cancellation; BHT03 our reference (the trace number again).
        seg("BHT", "0007", "01" if cancel else "13", clean(reference or trace)[:50], _today(), _now_hm()),
        *_head(case, parties),
        seg("HL", "4", "3", "EV", "1"),
        seg("TRN", "1", clean(trace)[:50], parties.trace_company[:10]),
        seg("UM", "HS", CERT_CANCEL if cancel else CERT_INITIAL, "1", comp(pos, "B"), "", level),
    ]
    if prior_auth:
        body.append(seg("REF", "BB", clean(prior_auth)[:50]))
    body.append(seg("DTP", "AAH", "D8", event_date))
    diagnoses = [clean(d).replace(".", "") for d in (order.diagnosis_codes or []) if d][:12]
    if diagnoses:
        # The principal diagnosis is ABK, the others ABF (ICD-10-CM, without the dot).
        body.append(seg("HI", *[comp("ABK" if i == 0 else "ABF", d) for i, d in enumerate(diagnoses)]))
    hsd = _hsd(order)
    if hsd:
        body.append(hsd)
    if not cancel:
        # Documents are not in the 278: they follow by fax (or a 275), named by attachment control number.
        for document in case.documents.all()[:10]:
            body.append(seg("PWK", PWK_REPORT, PWK_FAX, "", "", "AC", f"{clean(trace)[:40]}-{document.pk}"))
    provider = order.ordering_provider
    body.append(
        seg(
            "NM1",
            "SJ",
            "1",
            clean(provider.last_name)[:60],
            clean(provider.first_name)[:35],
            "",
            "",
            "",
            "XX",
            provider.npi,
        )
    )
    body += [
        seg("HL", "5", "4", "SS", "0"),
        seg("TRN", "1", f"{clean(trace)[:46]}-1", parties.trace_company[:10]),
        seg("UM", "HS", CERT_CANCEL if cancel else CERT_INITIAL, "", comp(pos, "B")),
        seg("DTP", "472", "D8", event_date),
        _service_line(order),
    ]
    return body


def inquiry_segments(case: PriorAuthCase, *, trace: str, parties: Parties, prior_auth: str = "") -> list[str]:
    """The body of a 005010X215 inquiry: the request is found by our trace number (TRN) and the dates."""
    order = case.order
    body = [
        seg("BHT", "0007", "13", clean(trace)[:50], _today(), _now_hm()),
        *_head(case, parties),
        seg("HL", "4", "3", "EV", "0"),
        seg("TRN", "1", clean(trace)[:50], parties.trace_company[:10]),
        seg("UM", "HS", "", "1"),
    ]
    if prior_auth:
        body.append(seg("REF", "BB", clean(prior_auth)[:50]))
    body.append(seg("DTP", "AAH", "D8", order.service_date.strftime("%Y%m%d")))
    return body


def eligibility_segments(case: PriorAuthCase, *, trace: str, parties: Parties) -> list[str]:
    """The body of a 005010X279A1 270: source 20 (NM1*PR), receiver 21 (NM1*1P), subscriber 22, EQ*30."""
    head = _head(case, parties)
    head[1] = seg("NM1", "PR", "2", parties.payer_name, "", "", "", "", "PI", parties.payer_code)
    # HL*3 subscriber: no child loop; add TRN and the plan-coverage question.
    head[4] = seg("HL", "3", "2", "22", "0")
    return [
        seg("BHT", "0022", "13", clean(trace)[:50], _today(), _now_hm()),
        *head[:6],
        seg("TRN", "1", clean(trace)[:50], parties.trace_company[:10]),
        head[6],
        seg("DTP", "291", "D8", case.order.service_date.strftime("%Y%m%d")),
        seg("EQ", "30"),
    ]


def build(env: Envelope, body: list[str], *, transaction_code: str) -> str:
    text = envelope(env, body, transaction_code=transaction_code)
    validate_request(text)
    return text


# What each loop of a request must open with, and the order of loops (HL03) we write.
_LOOP_ORDER = {"20": 1, "21": 2, "22": 3, "23": 4, "EV": 5, "SS": 6}
_LOOP_FIRST = {"20": {"NM1"}, "21": {"NM1"}, "22": {"NM1"}, "23": {"NM1"}, "EV": {"TRN", "UM"}, "SS": {"TRN", "UM"}}


def validate_request(text: str) -> None:
    """Check a request we built before it leaves: the envelope (read back), HL numbering, parents and
    loop order, each loop's first segment, and the transaction's required segments. Raises `X12Error`."""
    ix = read_interchange(text)
    (tx,) = ix.transactions()
    segments = tx.segments
    if not segments or segments[0].tag != "BHT":
        raise X12Error("The transaction does not start with BHT.")
    seen: dict[str, str] = {}
    last_level = 0
    for i, s in enumerate(segments):
        if s.tag != "HL":
            continue
        number, parent, level, child = s.get(1), s.get(2), s.get(3), s.get(4)
        if number != str(len(seen) + 1):
            raise X12Error(f"HL01 {number} out of sequence.")
        if parent and parent not in seen:
            raise X12Error(f"HL {number} names parent {parent}, which does not come before it.")
        order = _LOOP_ORDER.get(level)
        if order is None or order < last_level:
            raise X12Error(f"HL {number}: loop {level} out of order.")
        last_level = order
        nxt = segments[i + 1].tag if i + 1 < len(segments) else ""
        if nxt not in _LOOP_FIRST[level]:
            raise X12Error(f"HL {number} (loop {level}) starts with {nxt or 'nothing'}.")
        has_child = any(x.get(2) == number for x in segments if x.tag == "HL")
        if child != ("1" if has_child else "0"):
            raise X12Error(f"HL {number}: HL04 says {child} but the loop {'has' if has_child else 'has no'} child.")
        seen[number] = level
    if tx.code == "278" and not {"20", "21", "22", "EV"} <= set(seen.values()):
        raise X12Error("A 278 needs the UMO, requester, subscriber and patient event loops.")
    if tx.code == "270" and not any(s.tag == "EQ" for s in segments):
        raise X12Error("A 270 needs an EQ segment.")


def _today() -> str:
    from django.utils import timezone

    return timezone.localtime().strftime("%Y%m%d")


def _now_hm() -> str:
    from django.utils import timezone

    return timezone.localtime().strftime("%H%M")
