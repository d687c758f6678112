import pytest

from cases.models import Status
from integrations import registry
from payers.models import Channel
from tests import factories as f
from tests.integrations.submission.channels import ScriptedChannel


@pytest.fixture
def scripted(monkeypatch):
    """Register the test-only channel: one line in the registry, nothing in cases/."""
    monkeypatch.setitem(registry.CHANNELS, "scripted", "tests.integrations.submission.channels.ScriptedChannel")
    monkeypatch.setattr(ScriptedChannel, "script", {})
    monkeypatch.setattr(ScriptedChannel, "calls", [])
    monkeypatch.setattr(ScriptedChannel, "awaiting", [])
    return ScriptedChannel


def ready_case(practice, provider, *, channel: str, clinician=None, **payer):
    payer_row = f.PayerFactory(default_channel=channel if channel in Channel.values else Channel.PORTAL, **payer)
    patient = f.PatientFactory(practice=practice, mobile_phone="+15555550142", sms_consent=True)
    coverage = f.CoverageFactory(patient=patient, payer=payer_row)
    order = f.OrderFactory(practice=practice, patient=patient, ordering_provider=provider, coverage=coverage)
    return f.gate_met(f.CaseFactory(order=order, payer=payer_row, status=Status.READY, channel=channel), clinician)
