from pathlib import Path

import pytest

from cases.models import Status
from integrations.submission.models import PayerLink
from integrations.x12_278.models import Clearinghouse, PayerRoute
from payers.models import Channel
from tests import factories as f

FIXTURES = Path(__file__).parent / "fixtures"


def fixture(name: str) -> str:
    return (FIXTURES / name).read_text()


@pytest.fixture
def x12_payer(db):
    return f.PayerFactory(name="Bayside Health Plan", payer_id="BAYS1", default_channel=Channel.X12_278)


@pytest.fixture
def clearinghouse(db):
    ch = Clearinghouse(
        name="Sandbox clearinghouse",
        endpoint_url="http://127.0.0.1:9/unused",
        sender_id="PRACTICE01",
        receiver_id="SANDBOXCH",
        username="practice",
    )
    ch.set_password("s3cret-pass")
    ch.save()
    return ch


@pytest.fixture
def route(x12_payer, clearinghouse):
    return PayerRoute.objects.create(payer=x12_payer, clearinghouse=clearinghouse, payer_code="BAYS1")


@pytest.fixture
def sandboxed(route, clearinghouse, live_server, settings):
    """The clearinghouse pointed at the app's own sandbox, served over real HTTP by live_server."""
    settings.SANDBOX_ENABLED = True
    settings.X12_SANDBOX_PEND_SECONDS = 0
    clearinghouse.endpoint_url = f"{live_server.url}/sandbox/clearinghouse/core/"
    clearinghouse.save()
    PayerLink.objects.get_or_create(payer=route.payer)
    return clearinghouse


def x12_case(practice, provider, payer, *, member_id="W1234567", status=Status.READY, **order):
    practice.npi = practice.npi or "1234567893"
    practice.save()
    patient = f.PatientFactory(practice=practice, first_name="Rosa", last_name="Diaz")
    coverage = f.CoverageFactory(patient=patient, payer=payer, member_id=member_id, group_number="GRP77")
    o = f.OrderFactory(practice=practice, patient=patient, ordering_provider=provider, coverage=coverage, **order)
    case = f.CaseFactory(order=o, payer=payer, status=status, channel=Channel.X12_278)
    return f.gate_met(case)
