import io
import json

import pytest

from cases.models import Status
from integrations.fax.backends import event_body
from integrations.fax.config import sandbox_private_key_bytes
from integrations.fax.signature import signature_headers
from tests import factories as f


@pytest.fixture(autouse=True)
def _fax_env(monkeypatch, settings, tmp_path):
    monkeypatch.setenv("FAX_BACKEND", "sandbox")
    monkeypatch.setenv("FAX_SANDBOX_DELAY_SECONDS", "0")
    monkeypatch.setenv("FAX_FROM_NUMBER", "+15550104401")
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def fax_case(practice, owner_provider, owner_clinician, q_sync):
    """A ready case whose payer takes faxes; the practice's fax line receives the answers."""
    practice.fax = "(555) 010-4401"
    practice.save()
    payer = f.PayerFactory(name="Faxonly Health", default_channel="fax", fax="(555) 010-7701", phone="555-010-7700")
    patient = f.PatientFactory(practice=practice, first_name="Dolores", last_name="Abernathy", mrn="MRN-7741")
    coverage = f.CoverageFactory(patient=patient, payer=payer, member_id="XZW448812")
    order = f.OrderFactory(practice=practice, patient=patient, ordering_provider=owner_provider, coverage=coverage)
    return f.gate_met(f.CaseFactory(order=order, payer=payer, status=Status.READY, channel="fax"), owner_clinician)


def signed(event_type: str, payload: dict, *, key: bytes | None = None, event_id: str | None = None):
    """(body, headers) as the fax service sends them; `key` signs with another key (a forgery)."""
    body = event_body(event_type, payload)
    if event_id:
        envelope = json.loads(body)
        envelope["data"]["id"] = event_id
        body = json.dumps(envelope).encode()
    headers = signature_headers(body=body, private_key_bytes=key or sandbox_private_key_bytes())
    return body, headers


def post_event(client, body: bytes, headers: dict):
    return client.post(
        "/integrations/fax/events/",
        data=body,
        content_type="application/json",
        headers=headers,
    )


def make_pdf(*lines: str, image_only: bool = False) -> bytes:
    """A one-page PDF with these lines as real text, or with a drawing and no text (a scan)."""
    from fpdf import FPDF

    pdf = FPDF(format="letter")
    pdf.add_page()
    if image_only:
        pdf.set_fill_color(80)
        for i in range(8):
            pdf.rect(20, 20 + i * 25, 150, 12, style="F")
    else:
        pdf.set_font("Helvetica", size=12)
        for line in lines:
            pdf.cell(0, 8, line, new_x="LMARGIN", new_y="NEXT")
    buffer = io.BytesIO()
    pdf.output(buffer)
    return buffer.getvalue()
