import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from cases.models import Status
from integrations.pas.models import SandboxPayer
from integrations.pas.sandbox_auth import sandbox_credentials_ensure
from integrations.submission.models import PayerLink
from payers.models import Channel
from tests import factories as f
from tests.peers.launch import node_peer
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
def pas_case(practice, owner_provider, owner_clinician, pas_payer):
    patient = f.PatientFactory(practice=practice)
    coverage = f.CoverageFactory(patient=patient, payer=pas_payer)
    order = f.OrderFactory(practice=practice, patient=patient, ordering_provider=owner_provider, coverage=coverage)
    return f.gate_met(f.CaseFactory(order=order, payer=pas_payer, status=Status.READY, channel="pas"), owner_clinician)


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
    # As a real payer: every call needs a bearer token got with our signed client assertion.
    sandbox_credentials_ensure(payer=pas_payer, sandbox=sandbox_payer, base_url=live_server.url)
    return sandbox_payer


# --- Medplum's FHIR engine playing a PAS payer (tests/peers/pas_payer_server.mjs) ------------------


class PayerPeer:
    def __init__(self, port: int):
        self.root = f"http://127.0.0.1:{port}"
        self.base = f"{self.root}/fhir"

    def admin(self, path: str, body: dict | None = None):
        r = requests.post(f"{self.root}/__admin/{path}", json=body or {}, timeout=10)
        r.raise_for_status()

    def requests_log(self) -> list[dict]:
        return requests.get(f"{self.root}/__admin/requests", timeout=10).json()


@pytest.fixture(scope="session")
def payer_server():
    with node_peer("pas_payer_server.mjs", label="PAS peer") as port:
        yield PayerPeer(port)


@pytest.fixture
def peer(payer_server, pas_payer, settings):
    payer_server.admin("clear")
    pas_payer.fhir_base_url = payer_server.base
    pas_payer.save()
    settings.PAS_READ_TIMEOUT_SECONDS = 2
    return payer_server


@pytest.fixture
def full_case(pas_case):
    pas_case.summary_text = "Headaches for 8 weeks despite two preventive drugs; neurological exam abnormal."
    pas_case.summary_attested_text = pas_case.summary_text  # the ordering clinician attested this text
    pas_case.save()
    plan = f.PlanFactory(payer=pas_case.payer, name="Harbor MA Choice (HMO)")
    coverage = pas_case.order.coverage
    coverage.plan = plan
    coverage.group_number = "G-100"
    coverage.save()
    return pas_case


# --- a plain HTTP endpoint on loopback that records what it is sent --------------------------------


class Endpoint:
    """Answers each POST with the next scripted reply (status, body bytes, delay) — the last one
    repeats — and records method, path, headers and body."""

    def __init__(self):
        self.received: list[dict] = []
        self.replies: list[tuple[int, bytes, float]] = [(201, b"{}", 0.0)]
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                endpoint.received.append(
                    {"method": "POST", "path": self.path, "headers": dict(self.headers), "body": body}
                )
                status, reply, delay = endpoint.replies[0] if len(endpoint.replies) == 1 else endpoint.replies.pop(0)
                if delay:
                    time.sleep(delay)
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/fhir+json")
                    self.send_header("Content-Length", str(len(reply)))
                    self.end_headers()
                    self.wfile.write(reply)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def reply(self, *replies):
        """Script the replies: each (status, body) or (status, body, delay); a dict body is sent as JSON."""
        self.replies = [
            (r[0], json.dumps(r[1]).encode() if isinstance(r[1], (dict, list)) else r[1], r[2] if len(r) > 2 else 0.0)
            for r in replies
        ]

    def json_bodies(self) -> list[dict]:
        return [json.loads(r["body"]) for r in self.received if r["body"]]


@pytest.fixture
def endpoint():
    ep = Endpoint()
    yield ep
    ep.server.shutdown()
    ep.server.server_close()
