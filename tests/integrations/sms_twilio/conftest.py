import datetime as dt
import json
import os
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
import time_machine
from twilio.request_validator import RequestValidator

from cases.models import Status
from integrations.sms_twilio.config import sms_config
from integrations.sms_twilio.notifiers import ConsoleNotifier
from tests import factories as f
from tests.shared_data import SHARED_DATA

AUTH_TOKEN = "test-auth-token-0123456789abcdef"
PUBLIC_BASE_URL = "https://pa.example.org"
ACCOUNT_SID = "AC" + "a" * 32
SERVICE_SID = "MG" + "a" * 32
REPO = Path(__file__).resolve().parents[3]
TWILIO_SPEC = Path(os.environ.get("TWILIO_SPEC", SHARED_DATA / "twilio" / "twilio_api_v2010.json"))
# 11:00 in New York on a Tuesday: inside the default 08:00–20:00 window.
IN_WINDOW = dt.datetime(2026, 3, 10, 15, 0, tzinfo=dt.UTC)


@pytest.fixture
def sms_env(monkeypatch, tmp_path, settings):
    """The console backend writing to a file, with webhook credentials set."""
    monkeypatch.setenv("SMS_BACKEND", "console")
    monkeypatch.setenv("SMS_CONSOLE_FILE", str(tmp_path / "sms.jsonl"))
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", AUTH_TOKEN)
    settings.PUBLIC_BASE_URL = PUBLIC_BASE_URL
    return tmp_path / "sms.jsonl"


@pytest.fixture
def console(sms_env):
    return ConsoleNotifier(sms_config())


def sent_lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


@pytest.fixture
def frozen():
    with time_machine.travel(IN_WINDOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def textable_case(practice, owner_provider, payer):
    patient = f.PatientFactory(practice=practice, first_name="Avery", mobile_phone="+15555550123", sms_consent=True)
    order = f.OrderFactory(practice=practice, patient=patient, ordering_provider=owner_provider)
    return f.CaseFactory(order=order, payer=payer, status=Status.SUBMITTED)


def sign(path: str, params: dict, token: str = AUTH_TOKEN, base: str = PUBLIC_BASE_URL) -> str:
    return RequestValidator(token).compute_signature(base + path, params)


def post_signed(client, path: str, params: dict, **extra):
    return client.post(path, params, HTTP_X_TWILIO_SIGNATURE=sign(path, params), **extra)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def prism_url():
    """Stoplight Prism serving Twilio's own OpenAPI description on loopback; it rejects off-spec requests."""
    binary = REPO / "node_modules/.bin/prism"
    if not binary.exists() or not TWILIO_SPEC.exists():
        pytest.fail(f"Prism ({binary}) or the Twilio spec ({TWILIO_SPEC}) is missing: run npm ci")
    port = _free_port()
    # Prism logs every request: to a file, so a full pipe never blocks it.
    log = tempfile.TemporaryFile()
    process = subprocess.Popen(  # noqa: S603
        [str(binary), "mock", "-h", "127.0.0.1", "-p", str(port), str(TWILIO_SPEC)],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if process.poll() is not None:
                log.seek(0)
                pytest.fail("Prism exited: " + log.read().decode(errors="replace")[-2000:])
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail("Prism did not start within 90 s")
        yield url
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
        log.close()
