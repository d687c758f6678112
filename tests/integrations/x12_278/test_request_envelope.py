"""The 278 we build: envelope counts and control numbers, loop order, the case's data, urgency, cancel, inquiry."""

import pytest

from cases.models import Urgency
from integrations.base import IntegrationError
from integrations.x12_278 import request as x12req
from integrations.x12_278.channel import interchange_for
from integrations.x12_278.models import Interchange
from integrations.x12_278.x12 import X12Error, read_interchange
from tests import factories as f
from tests.integrations.x12_278.conftest import x12_case


def _request(case, route, key="case-1-sub-1", kind=Interchange.Kind.REQUEST, **kw):
    return interchange_for(
        case,
        route,
        kind=kind,
        key=key,
        body_for=lambda p: x12req.request_segments(case, trace=key, parties=p, **kw),
    )


def _segments(text):
    ix = read_interchange(text)
    (tx,) = ix.transactions()
    return ix, tx, [s.elements for s in tx.segments]


def test_request_envelope_counts_and_control_numbers(practice, owner_provider, route):
    # given an X12 case
    case = x12_case(practice, owner_provider, route.payer, diagnosis_codes=["M17.11", "M25.561"])
    # when its 278 is built
    ix_row = _request(case, route)
    ix, tx, segs = _segments(ix_row.payload)
    # then the envelope reads back with matching counts and control numbers
    assert len(ix_row.payload.split("~")[0]) + 1 == 106
    assert ix.control_number == f"{ix_row.control_number:09d}"
    assert ix.groups[0].gs.get(6) == str(ix_row.control_number)
    assert ix.groups[0].gs.get(8) == "005010X217" and ix.groups[0].gs.get(1) == "HI"
    assert tx.se.get(1) == str(len(tx.segments) + 2)
    assert ix.sender_id == "PRACTICE01" and ix.receiver_id == "SANDBOXCH"
    # and the loops come in order, each opened by what the guide puts first
    hls = [s[1:] for s in segs if s[0] == "HL"]
    assert hls == [
        ["1", "", "20", "1"],
        ["2", "1", "21", "1"],
        ["3", "2", "22", "1"],
        ["4", "3", "EV", "1"],
        ["5", "4", "SS", "0"],
    ]
    tags = [s[0] for s in segs]
    assert tags[0] == "BHT" and segs[0][2] == "13"
    assert ["NM1", "X3", "2", "BAYSIDE HEALTH PLAN", "", "", "", "", "PI", "BAYS1"] in segs
    assert ["NM1", "1P", "2", practice.name.upper(), "", "", "", "", "XX", "1234567893"] in segs
    assert ["NM1", "IL", "1", "DIAZ", "ROSA", "", "", "", "MI", "W1234567"] in segs
    assert ["HI", "ABK:M1711", "ABF:M25561"] in segs
    assert ["TRN", "1", "CASE-1-SUB-1", "9123456789"] in segs
    assert ["SV1", "HC:70551", "", "UN", "1"] in segs


def test_control_numbers_are_unique_persisted_and_a_resend_is_identical(practice, owner_provider, route):
    case = x12_case(practice, owner_provider, route.payer)
    first = _request(case, route, key="k-1")
    second = _request(case, route, key="k-2")
    assert second.control_number == first.control_number + 1
    route.clearinghouse.refresh_from_db()
    assert route.clearinghouse.last_interchange_control == second.control_number
    # a retry of the same key is the same interchange: same ISA13, PayloadID and bytes
    again = _request(case, route, key="k-1")
    assert (again.pk, again.payload, again.payload_id) == (first.pk, first.payload, first.payload_id)


def test_urgency_maps_to_um06_and_pwk_names_documents(practice, owner_provider, route):
    case = x12_case(practice, owner_provider, route.payer)
    case.urgency = Urgency.EXPEDITED
    case.save()
    doc = f.DocumentFactory(case=case) if hasattr(f, "DocumentFactory") else None
    _, _, segs = _segments(_request(case, route).payload)
    um = next(s for s in segs if s[0] == "UM")
    assert um[1:3] == ["HS", "I"] and um[6] == "U"
    if doc is not None:
        assert ["PWK", "77", "FX", "", "", "AC", f"CASE-1-SUB-1-{doc.pk}"] in segs


def test_institutional_site_uses_sv2_and_days_go_in_hsd(practice, owner_provider, route):
    case = x12_case(practice, owner_provider, route.payer, site_of_service="21", units="DA", quantity=3)
    _, _, segs = _segments(_request(case, route).payload)
    assert ["SV2", "", "HC:70551", "", "UN", "3"] in segs
    assert ["HSD", "DY", "3"] in segs


def test_cancel_repeats_the_trace_with_um02_3(practice, owner_provider, route):
    case = x12_case(practice, owner_provider, route.payer)
    case.authorization_number = "AUTH9"
    ix = _request(
        case, route, key="k-cancel", kind=Interchange.Kind.CANCEL, cancel=True, prior_auth="AUTH9", reference="k-cancel"
    )
    _, _, segs = _segments(ix.payload)
    assert segs[0][2] == "01"
    assert all(s[2] == "3" for s in segs if s[0] == "UM")
    assert ["REF", "BB", "AUTH9"] in segs
    assert not any(s[0] == "PWK" for s in segs)


def test_inquiry_is_x215(practice, owner_provider, route):
    case = x12_case(practice, owner_provider, route.payer)
    ix = interchange_for(
        case,
        route,
        kind=Interchange.Kind.INQUIRY,
        key="k-1@1",
        body_for=lambda p: x12req.inquiry_segments(case, trace="k-1", parties=p),
    )
    parsed, _, segs = _segments(ix.payload)
    assert parsed.groups[0].gs.get(8) == "005010X215"
    assert ["TRN", "1", "K-1", "9123456789"] in segs


def test_validation_refuses_a_broken_request():
    good = (
        "~".join(
            [
                "ISA*00*          *00*          *ZZ*A              *ZZ*B              "
                "*261203*1200*^*00501*000000007*0*P*:",
                "GS*HI*A*B*20261203*1200*7*X*005010X217",
                "ST*278*0001*005010X217",
                "BHT*0007*13*T*20261203*1200",
                "HL*1**20*1",
                "NM1*X3*2*P*****PI*1",
                "HL*2*1*21*1",
                "NM1*1P*2*R*****XX*1",
                "HL*3*2*22*1",
                "NM1*IL*1*D*R****MI*1",
                "HL*4*3*EV*0",
                "TRN*1*T*91",
                "SE*11*0001",
                "GE*1*7",
                "IEA*1*000000007",
            ]
        )
        + "~"
    )
    x12req.validate_request(good)
    # an HL out of order (service before subscriber) is refused
    with pytest.raises(X12Error, match="out of order|HL04|starts with"):
        x12req.validate_request(good.replace("HL*3*2*22*1", "HL*3*2*SS*1"))
    # a wrong count is refused
    with pytest.raises(X12Error, match="SE01"):
        x12req.validate_request(good.replace("SE*11", "SE*12"))


def test_a_case_without_npi_cannot_be_built(practice, owner_provider, route):
    case = x12_case(practice, owner_provider, route.payer)
    practice.npi = ""
    practice.save()
    owner_provider.npi = ""
    case.order.ordering_provider.npi = ""
    with pytest.raises(IntegrationError, match="NPI") as err:
        _request(case, route, key="no-npi")
    assert err.value.permanent
