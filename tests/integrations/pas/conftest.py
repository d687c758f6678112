import json
from pathlib import Path

import pytest

from cases.models import Status
from integrations.pas.models import PayerLink, SandboxPayer
from payers.models import Channel
from tests import factories as f
from tests.shared_data import SHARED_DATA

REPO = Path(__file__).resolve().parents[3]
RI_DIR = SHARED_DATA / "fhir" / "davinci-pas-ri"
PAS2_DIR = REPO / "tests" / "fixtures" / "pas"


def load(path: Path) -> dict:
    return json.loads(path.read_text())


@pytest.fixture
def pas_payer(db):
    return f.PayerFactory(
        name="Harbor Medicare Advantage",
        cms_impacted=True,
        default_channel=Channel.PAS,
        fhir_base_url="http://127.0.0.1:9/unused",
        poll_interval_hours=8,
    )


@pytest.fixture
def pas_case(practice, owner_provider, pas_payer):
    patient = f.PatientFactory(practice=practice)
    coverage = f.CoverageFactory(patient=patient, payer=pas_payer)
    order = f.OrderFactory(practice=practice, patient=patient, ordering_provider=owner_provider, coverage=coverage)
    return f.CaseFactory(order=order, payer=pas_payer, status=Status.READY, channel="pas")


@pytest.fixture
def sandbox_payer(db):
    return SandboxPayer.objects.create(
        slug="harbor", approve_weight=1, partial_weight=0, deny_weight=0, pend_weight=0, decision_delay_seconds=0
    )


@pytest.fixture
def sandboxed(pas_payer, sandbox_payer, live_server, settings):
    """The payer pointed at the app's own sandbox, served over real HTTP by live_server."""
    settings.SANDBOX_ENABLED = True
    pas_payer.fhir_base_url = f"{live_server.url}/sandbox/payer/{sandbox_payer.slug}/fhir"
    pas_payer.save()
    PayerLink.objects.get_or_create(payer=pas_payer)
    return sandbox_payer


@pytest.fixture
def q_sync(monkeypatch):
    """django-q2 runs enqueued tasks inline (it reads its settings once, at import)."""
    from django_q.conf import Conf

    monkeypatch.setattr(Conf, "SYNC", True)
