"""The Telnyx backend: the official SDK against a loopback stub (the real request shapes), its
errors as IntegrationError, and webhooks verified with the account's Ed25519 public key."""

import base64
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from integrations.base import IntegrationError
from integrations.fax.models import FaxAttempt, OutboundFax
from integrations.submission.models import Submission
from integrations.submission.services import submission_request
from tests.integrations.fax.conftest import post_event, signed

pytestmark = pytest.mark.django_db
PRIVATE = b"\x07" * 32


class _Stub(BaseHTTPRequestHandler):
    requests: list = []
    answer = (200, {"data": {"id": "b2a1c1e8-0000-4000-8000-00000000fa11", "record_type": "fax", "status": "queued"}})

    def do_POST(self):  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        type(self).requests.append((self.path, dict(self.headers), json.loads(body or b"{}")))
        status, payload = type(self).answer
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def telnyx_stub(monkeypatch):
    _Stub.requests = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Stub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    public = Ed25519PrivateKey.from_private_bytes(PRIVATE).public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    monkeypatch.setenv("FAX_BACKEND", "telnyx")
    monkeypatch.setenv("TELNYX_API_KEY", "KEY0123")
    monkeypatch.setenv("TELNYX_PUBLIC_KEY", base64.b64encode(public).decode())
    monkeypatch.setenv("TELNYX_FAX_CONNECTION_ID", "1234567890")
    monkeypatch.setenv("FAX_PUBLIC_BASE_URL", "https://pa.example.org")
    monkeypatch.setenv("TELNYX_API_BASE_URL", f"http://127.0.0.1:{server.server_port}/v2")
    yield _Stub
    server.shutdown()
    server.server_close()


def _send(fax_case, coordinator, capture):
    with capture(execute=True):
        submission_request(case=fax_case, actor=coordinator)
    return Submission.objects.get(case=fax_case)


def test_the_sdk_sends_telnyx_request_shape(telnyx_stub, fax_case, coordinator, django_capture_on_commit_callbacks):
    submission = _send(fax_case, coordinator, django_capture_on_commit_callbacks)

    assert submission.state == Submission.State.HANDED_OVER
    ((path, headers, body),) = telnyx_stub.requests
    outbound = OutboundFax.objects.get()
    assert path == "/v2/faxes"
    assert headers["Authorization"] == "Bearer KEY0123"
    assert body["connection_id"] == "1234567890"
    assert (body["to"], body["from"]) == ("+15550107701", "+15550104401")
    assert body["media_url"] == f"https://pa.example.org/integrations/fax/media/{outbound.media_token}.pdf"
    assert body["webhook_url"] == "https://pa.example.org/integrations/fax/events/"
    assert outbound.dials.get().vendor_fax_id == "b2a1c1e8-0000-4000-8000-00000000fa11"


@pytest.mark.parametrize(("status", "permanent"), [(422, True), (401, True), (429, False), (503, False)])
def test_refusals_are_integration_errors(status, permanent, telnyx_stub, fax_case, coordinator):
    from integrations.fax.backends import FaxJob, backend

    telnyx_stub.answer = (status, {"errors": [{"code": "10015", "title": "Invalid"}]})
    with pytest.raises(IntegrationError) as caught:
        backend().send(
            FaxJob(
                to="+15550107701",
                from_="+15550104401",
                media_url="https://x/y.pdf",
                client_state="c",
                webhook_url="https://x/",
            )
        )
    assert caught.value.permanent is permanent
    _Stub.answer = (200, {"data": {"id": "b2a1c1e8-0000-4000-8000-00000000fa11"}})


def test_a_refused_send_fails_the_submission_with_a_task(
    telnyx_stub, fax_case, coordinator, django_capture_on_commit_callbacks
):
    telnyx_stub.answer = (422, {"errors": [{"code": "10015", "title": "Invalid 'to'"}]})
    submission = _send(fax_case, coordinator, django_capture_on_commit_callbacks)
    _Stub.answer = (200, {"data": {"id": "b2a1c1e8-0000-4000-8000-00000000fa11"}})
    assert submission.state == Submission.State.FAILED
    assert OutboundFax.objects.get().dials.get().progress == FaxAttempt.Progress.ERROR
    assert fax_case.tasks.filter(kind="submit", done_at__isnull=True).exists()


def test_webhooks_verify_with_the_account_key(
    telnyx_stub, fax_case, coordinator, client, django_capture_on_commit_callbacks
):
    _send(fax_case, coordinator, django_capture_on_commit_callbacks)
    payload = {"fax_id": "b2a1c1e8-0000-4000-8000-00000000fa11", "page_count": 3}
    # Signed with the sandbox's key, not the account's: refused.
    assert post_event(client, *signed("fax.delivered", payload)).status_code == 403
    assert post_event(client, *signed("fax.delivered", payload, key=PRIVATE)).status_code == 204
    assert OutboundFax.objects.get().state == OutboundFax.State.DELIVERED
