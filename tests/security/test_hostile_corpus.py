"""The hostile-input corpus (tests/fixtures/hostile, written by its make_corpus.py) run through the app.

Each file goes in by the door it was made for. For every one: no 5xx, no
traceback logged, and nothing lost or half-written — a refused upload leaves no
document and no stored file, a refused bundle or rules file leaves the tables
as they were, and the case the posts aim at is still whole.
"""

import json
import logging
import mimetypes
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command

from cases.models import Document, Status
from cases.sweep.services import sweep_run
from integrations.ehr_fhir.models import SandboxResource
from integrations.submission.models import PayerLink
from payers.models import Payer, PayerRule, Plan
from tests import factories as f
from tests.integrations.sms_twilio.conftest import AUTH_TOKEN as TOKEN
from tests.integrations.sms_twilio.conftest import PUBLIC_BASE_URL as BASE
from tests.integrations.sms_twilio.conftest import sign

CORPUS = Path(__file__).resolve().parents[1] / "fixtures" / "hostile"
FILES = sorted(p for p in CORPUS.glob("*/*") if p.is_file())
SECRET = "hostile-notify-secret"
ENDPOINTS = {
    "twilio_status": "/integrations/twilio/status",
    "twilio_inbound": "/integrations/twilio/inbound",
    "fax_events": "/integrations/fax/events/",
}


def test_the_corpus_is_big_enough_and_covers_every_door():
    kinds = {p.parent.name for p in FILES}
    assert len(FILES) >= 150
    assert kinds == {"uploads", "fhir_bundles", "pas_notify", "payer_rules", "webhooks", "form_posts"}


@pytest.fixture
def world(case, practice, settings, tmp_path, monkeypatch, coordinator, manager, outsider):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.SANDBOX_ENABLED = True
    settings.DOCUMENT_MAX_DECODED_BYTES = 16 * 1024 * 1024
    settings.PUBLIC_BASE_URL = BASE
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", TOKEN)
    monkeypatch.setenv("SMS_BACKEND", "console")
    monkeypatch.setenv("SMS_CONSOLE_FILE", str(tmp_path / "sms.jsonl"))
    case.status = Status.READY
    case.save()
    PayerLink.objects.create(payer=case.payer, notify_secret=SECRET)
    return {
        "case": case,
        "task": f.TaskFactory(case=case, role="manager"),
        "sweep": sweep_run(practice=practice),
        "coordinator": coordinator,
        "manager": manager,
        "outsider": outsider,
    }


def _stored_files(settings) -> int:
    root = Path(settings.MEDIA_ROOT)
    return sum(1 for p in root.rglob("*") if p.is_file()) if root.exists() else 0


def _upload(client, world, path, settings):
    case = world["case"]
    client.force_login(world["coordinator"])
    before = case.documents.count()
    declared = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    response = client.post(
        f"/cases/{case.pk}/upload/",
        {"file": SimpleUploadedFile(path.name, path.read_bytes(), declared), "kind": "other"},
    )
    assert response.status_code < 500
    after = case.documents.count()
    assert after in (before, before + 1)
    # no file left behind without its row, and no row without its file
    assert _stored_files(settings) == Document.objects.exclude(file="").count()
    packet = client.get(f"/cases/{case.pk}/packet.pdf")
    assert packet.status_code < 500
    return [response, packet]


def _bundle(path):
    before = list(SandboxResource.objects.order_by("pk").values_list("pk", "body"))
    try:
        call_command("sandbox_load_bundles", str(path), stdout=open("/dev/null", "w"))  # noqa: SIM115
    except CommandError as exc:
        assert str(exc)
        assert list(SandboxResource.objects.order_by("pk").values_list("pk", "body")) == before
    return []


def _rules(path):
    def state():
        return (
            list(PayerRule.objects.order_by("pk").values()),
            list(Payer.objects.order_by("pk").values_list("pk", "name")),
            list(Plan.objects.order_by("pk").values_list("pk", "name")),
        )

    before = state()
    try:
        call_command("import_payer_rules", str(path), stdout=open("/dev/null", "w"), stderr=open("/dev/null", "w"))  # noqa: SIM115
    except CommandError as exc:
        assert str(exc)
        assert state() == before
    return []


def _notify(client, world, path):
    case = world["case"]
    response = client.post(
        f"/integrations/pas/notify/{case.payer_id}/",
        data=path.read_bytes(),
        content_type="application/fhir+json",
        HTTP_AUTHORIZATION=f"Bearer {SECRET}",
    )
    assert response.status_code < 500
    return [response]


def _webhook(client, path):
    spec = json.loads(path.read_text())
    url = ENDPOINTS[spec["endpoint"]]
    if spec["endpoint"].startswith("twilio"):
        params = spec["params"]
        signature = sign(url, params)
        response = client.post(url, params, HTTP_X_TWILIO_SIGNATURE=signature)
    else:
        response = client.post(url, data=json.dumps(spec["params"]), content_type="application/json")
        assert response.status_code in (400, 403)  # unsigned: refused before it is read
    assert response.status_code < 500
    return [response]


def _form(client, world, path):
    spec = json.loads(path.read_text())
    ids = {k: world[k].pk for k in ("case", "task", "sweep", "outsider", "coordinator")}

    def fill(value):
        if isinstance(value, list):
            return [fill(v) for v in value]
        for key, pk in ids.items():
            value = value.replace("{" + key + "}", str(pk))
        return value

    client.force_login(world[spec["as"]])
    data = {k: fill(v) for k, v in spec["data"].items()}
    send = client.post if spec["method"] == "post" else client.get
    response = send(fill(spec["url"]), data)
    assert response.status_code < 500
    world["case"].refresh_from_db()  # still there
    return [response]


@pytest.mark.parametrize("path", FILES, ids=[f"{p.parent.name}/{p.name}" for p in FILES])
def test_hostile_input_is_refused_cleanly(path, client, world, settings, caplog):
    caplog.set_level(logging.WARNING)
    kind = path.parent.name
    if kind == "uploads":
        responses = _upload(client, world, path, settings)
    elif kind == "fhir_bundles":
        responses = _bundle(path)
    elif kind == "payer_rules":
        responses = _rules(path)
    elif kind == "pas_notify":
        responses = _notify(client, world, path)
    elif kind == "webhooks":
        responses = _webhook(client, path)
    else:
        responses = _form(client, world, path)
    for response in responses:
        body = b"" if response.streaming else response.content
        assert b"Traceback" not in body
    logged = [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    assert logged == [], [r.getMessage() for r in logged]
