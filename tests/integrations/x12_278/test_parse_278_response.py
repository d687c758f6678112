"""parse_278_response: every HCR01 code, dates, quantities, per-service answers, separators, broken envelopes,
999/TA1 in place of a 278, AAA rejections — and files written by others."""

import io
from datetime import date

import pytest

from integrations.base import DecisionStatus, PayerResponseUnreadable
from integrations.x12_278 import parse_278_response
from integrations.x12_278.parse import X12Rejected, X12ResponseError
from tests.integrations.x12_278.conftest import fixture

ISA = "ISA*00*          *00*          *ZZ*CLEARING       *ZZ*PRACTICE01     *261203*1200*^*00501*000000042*0*P*:"
HEAD = [
    "BHT*0007*11*case-7-sub-1*20261203*1200",
    "HL*1**20*1",
    "NM1*X3*2*BAYSIDE HEALTH PLAN*****PI*BAYS1",
    "HL*2*1*21*1",
    "NM1*1P*2*RIVERSIDE*****XX*1234567893",
    "HL*3*2*22*1",
    "NM1*IL*1*DIAZ*ROSA****MI*W1234567",
]


def interchange(body, *, isa=ISA, term="~", sep="*", gs06="42", st02="0001", se01=None, ge01="1", iea02=None):
    tx = [f"ST*278*{st02}*005010X217", *HEAD, *body]
    tx.append(f"SE*{se01 if se01 is not None else len(tx) + 1}*{st02}")
    segs = [
        isa,
        f"GS*HI*CLEARING*PRACTICE01*20261203*1200*{gs06}*X*005010X217",
        *tx,
        f"GE*{ge01}*{gs06}",
        f"IEA*1*{iea02 or isa.split('*')[13]}",
    ]
    text = term.join(segs) + term
    return text.replace("*", sep) if sep != "*" else text


def event(hcr, *extra):
    return ["HL*4*3*EV*1", "TRN*2*case-7-sub-1*9123456789", "UM*HS*I*1*11:B", hcr, *extra]


SERVICE = ["HL*5*4*SS*0", "TRN*2*case-7-sub-1-1*9123456789", "SV1*HC:70551**UN*1"]


@pytest.mark.parametrize(
    "code,status",
    [
        ("A1", DecisionStatus.APPROVED),
        ("A2", DecisionStatus.PARTIALLY_APPROVED),
        ("A3", DecisionStatus.DENIED),
        ("A4", DecisionStatus.PENDED),
        ("A6", DecisionStatus.PARTIALLY_APPROVED),
        ("C", DecisionStatus.CANCELLED),
        ("CT", DecisionStatus.CONTACT_PAYER),
        ("NA", DecisionStatus.NOT_REQUIRED),
    ],
)
def test_every_hcr01_action_code(code, status):
    decision = parse_278_response(interchange(event(f"HCR*{code}*AUTH1")))
    assert decision.status == status
    assert decision.review_action_code == code
    assert decision.shape == "x12-278"


def test_certified_with_ref_bb_dates_and_quantity():
    body = (
        event(
            "HCR*A1*REVIEW77",
            "REF*BB*AUTH-55501",
            "REF*NT*ADMIN-9",
            "DTP*007*RD8*20261210-20270309",
            "HSD*VS*6",
        )
        + SERVICE[:2]
        + ["HCR*A1*REVIEW77", "REF*BB*AUTH-55501", "DTP*007*D8*20261210", "HSD*VS*6", SERVICE[2]]
    )
    d = parse_278_response(interchange(body))
    assert d.status == DecisionStatus.APPROVED
    assert d.authorization_number == "AUTH-55501"  # REF*BB over HCR02
    assert (d.effective_start, d.effective_end) == (date(2026, 12, 10), date(2027, 3, 9))
    assert d.units_approved == 6
    assert d.payer_tracking_id == "ADMIN-9"
    (item,) = d.items
    assert (item.status, item.authorization_number, item.effective_start, item.units_approved) == (
        DecisionStatus.APPROVED,
        "AUTH-55501",
        date(2026, 12, 10),
        6,
    )


def test_denial_reason_and_payer_words_and_expiration_date():
    d = parse_278_response(interchange(event("HCR*A3**0U", "DTP*036*D8*20270101", "MSG*NOT MEDICALLY NECESSARY")))
    assert d.status == DecisionStatus.DENIED
    assert d.reason_code == "0U" and d.reason_text == "NOT MEDICALLY NECESSARY"
    assert d.authorization_number == ""  # a denial carries no authorization
    assert d.effective_end == date(2027, 1, 1)


def test_pended_carries_the_payers_request():
    d = parse_278_response(interchange(event("HCR*A4", "MSG*SEND OFFICE NOTES")))
    assert d.status == DecisionStatus.PENDED and d.info_requested == ("SEND OFFICE NOTES",)


def test_service_level_answers_only_give_the_overall_answer():
    body = [
        "HL*4*3*EV*1",
        "TRN*2*case-7-sub-1*9123456789",
        "UM*HS*I*1*11:B",
        "HL*5*4*SS*0",
        "HCR*A1*AU1",
        "SV1*HC:70551**UN*1",
        "HL*6*4*SS*0",
        "HCR*A3**0U",
        "SV1*HC:70553**UN*1",
    ]
    body[3] = "HL*5*4*SS*0"
    d = parse_278_response(interchange(body))
    assert d.status == DecisionStatus.PARTIALLY_APPROVED and d.review_action_code == "A2"
    assert [i.status for i in d.items] == [DecisionStatus.APPROVED, DecisionStatus.DENIED]
    assert d.authorization_number == "AU1"


def test_non_default_separators_and_crlf():
    # element |, component ^ (ISA16), repetition {, segment terminator !, CR/LF between segments
    isa = ISA.replace("*^*00501", "*{*00501").replace("*P*:", "*P*^")
    text = interchange(event("HCR*A1*AUTH1", "UM*HS*I*1*11^B"), isa=isa, term="!\r\n", sep="|")
    assert text.startswith("ISA|00|") and "11^B" in text
    d = parse_278_response(text)
    assert d.status == DecisionStatus.APPROVED and d.authorization_number == "AUTH1"


@pytest.mark.parametrize(
    "mutate,message",
    [
        (lambda t: t.replace("ISA*00*          *", "ISA*00*         *", 1), "106"),
        (lambda t: t.replace("IEA*1*000000042", "IEA*1*000000043"), "IEA02"),
        (lambda t: t.replace("GE*1*42", "GE*1*41"), "GE02"),
        (lambda t: t.replace("GE*1*42", "GE*2*42"), "GE01"),
        (lambda t: t.replace("IEA*1*", "IEA*2*"), "IEA01"),
        (lambda t: t.replace("SE*", "SE*9", 1), "SE01"),
        (lambda t: t.replace("SE*", "SE*1", 1).replace("*0001~GE", "*0002~GE"), "SE"),
        (lambda t: t[: t.index("GE*")], "GE missing|open|IEA"),
        (lambda t: "<html>Service unavailable</html>", "ISA"),
        (lambda t: "ISA*00*", "cut short"),
    ],
)
def test_malformed_envelopes_are_refused_with_a_clear_error(mutate, message):
    text = mutate(interchange(event("HCR*A1*AUTH1")))
    with pytest.raises(X12ResponseError, match=message) as err:
        parse_278_response(text)
    assert isinstance(err.value, PayerResponseUnreadable)  # nothing applied; retried, breaker untouched


def test_a_request_is_not_a_response():
    text = interchange(event("HCR*A1")).replace("BHT*0007*11*", "BHT*0007*13*")
    with pytest.raises(X12ResponseError, match="BHT02"):
        parse_278_response(text)


def test_aaa_rejection_becomes_a_permanent_error_with_its_codes():
    body = ["HL*4*3*EV*0", "AAA*N**15*C"]
    with pytest.raises(
        X12Rejected, match=r"reason 15 \(required application data missing\).*correct and resubmit"
    ) as err:
        parse_278_response(interchange(body))
    assert err.value.permanent and err.value.codes == ("15", "C")
    # "wait and resubmit" and "unable to respond now" are retried, not a task at once
    with pytest.raises(X12Rejected) as later:
        parse_278_response(interchange(["HL*4*3*EV*0", "AAA*N**42*X"]))
    assert not later.value.permanent


def test_a_ta1_rejection_is_reported():
    text = "~".join([ISA, "TA1*000000099*261203*1200*R*025", "IEA*0*000000042"]) + "~"
    with pytest.raises(X12Rejected, match="TA1 R, note 025: duplicate interchange control number"):
        parse_278_response(text)
    accepted = "~".join([ISA, "TA1*000000099*261203*1200*A*000", "IEA*0*000000042"]) + "~"
    with pytest.raises(X12ResponseError, match="TA1 acknowledgment only"):
        parse_278_response(accepted)


def test_a_999_written_by_pyx12_is_read_and_reported(tmp_path):
    # given a 999 rejection produced by pyx12's own 999 writer for a malformed 837 (not written by us)
    import pyx12.params
    import pyx12.x12n_document

    bad = tmp_path / "bad.x12"
    bad.write_text(
        "ISA*00*          *00*          *ZZ*PRACTICE01     *ZZ*CLEARING       *261203*1200*^*00501*000000101*0*T*:~"
        "GS*HC*PRACTICE01*CLEARING*20261203*1200*101*X*005010X222A1~ST*837*0001*005010X222A1~"
        "BHT*0019*00*REF1*20261203*1200*CH~SE*3*0001~GE*1*101~IEA*1*000000101~"
    )
    out = io.StringIO()
    pyx12.x12n_document.x12n_document(pyx12.params.params(), str(bad), fd_997=out, fd_html=None)
    ack = out.getvalue()
    assert "ST*999*" in ack and "IK5*R" in ack and "\n" in ack
    # when it comes back where a 278 was expected, then the rejection and its segment errors are reported
    with pytest.raises(X12Rejected, match=r"rejected the 278 as malformed \(999 R\): segment NM1") as err:
        parse_278_response(ack)
    assert err.value.permanent


def test_an_accepted_999_alone_is_not_an_answer():
    ack = (
        "~".join(
            [
                ISA,
                "GS*FA*CLEARING*PRACTICE01*20261203*1200*42*X*005010X231A1",
                "ST*999*0001*005010X231A1",
                "AK1*HI*7*005010X217",
                "AK2*278*0001*005010X217",
                "IK5*A",
                "AK9*A*1*1*1",
                "SE*6*0001",
                "GE*1*42",
                "IEA*1*000000042",
            ]
        )
        + "~"
    )
    with pytest.raises(X12ResponseError, match="999 acknowledgment only"):
        parse_278_response(ack)


def test_files_written_by_others():
    # X12 guide-style certified response (interop-tools fixture): HCR*A1*AUTH0001, no ST03
    d = parse_278_response(fixture("interop_tools_278_response_certified.x12"))
    assert d.status == DecisionStatus.APPROVED and d.authorization_number == "AUTH0001"
    d = parse_278_response(fixture("interop_tools_278_response_denied.x12"))
    assert d.status == DecisionStatus.DENIED and d.reason_code == "93"
