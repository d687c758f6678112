"""The real peer: Medplum's FHIR engine on loopback playing the EHR, loaded
with a Synthea bundle generated with a fixed seed (tests/fixtures/synthea)."""

import json
import uuid
from datetime import date
from pathlib import Path

import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from django.core.cache import cache

from cases.models import Role
from integrations.ehr_fhir.models import EhrConnection
from tests import factories as f
from tests.peers.launch import node_peer

ROOT = Path(__file__).resolve().parents[3]
BUNDLE = ROOT / "tests" / "fixtures" / "synthea" / "patient_bundle.json"
SYNTHEA_NPI = "9999896629"  # a Practitioner in the committed bundle


def _pem(private_key) -> tuple[str, str]:
    private = private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = (
        private_key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


class EhrPeer:
    def __init__(self, port: int, keys: dict):
        self.port = port
        self.root = f"http://127.0.0.1:{port}"
        self.base = f"{self.root}/fhir"
        self.token_url = f"{self.root}/token"
        self.keys = keys

    def clear_and_load(self):
        requests.post(f"{self.root}/__admin/clear", timeout=10).raise_for_status()
        bundle = json.loads(BUNDLE.read_text())
        r = requests.post(self.base, json=bundle, headers={"Content-Type": "application/fhir+json"}, timeout=60)
        r.raise_for_status()
        self.synthea_ids = {}
        for entry in r.json()["entry"]:
            rtype, rid = entry["response"]["location"].split("/")[:2]
            self.synthea_ids.setdefault(rtype, []).append(rid)
        requests.post(f"{self.root}/__admin/clear-log", timeout=10)  # keep only the test's own requests

    def create(self, resource: dict) -> dict:
        r = requests.post(
            f"{self.base}/{resource['resourceType']}",
            json=resource,
            headers={"Content-Type": "application/fhir+json"},
            timeout=10,
        )
        assert r.status_code == 201, r.text
        return r.json()

    def search(self, path: str) -> list[dict]:
        r = requests.get(f"{self.base}/{path}", timeout=10)
        return [e["resource"] for e in r.json().get("entry", [])]

    def fault(self, match: str, mode: str, times: int = 1):
        requests.post(
            f"{self.root}/__admin/fault", json={"match": match, "mode": mode, "times": times}, timeout=10
        ).raise_for_status()

    def update(self, resource: dict) -> dict:
        r = requests.put(
            f"{self.base}/{resource['resourceType']}/{resource['id']}",
            json=resource,
            headers={"Content-Type": "application/fhir+json"},
            timeout=10,
        )
        assert r.status_code == 200, r.text
        return r.json()

    def set_profile(self, **profile):
        """How the peer behaves (see tests/peers/ehr_fhir_server.mjs), e.g. noResource=["Appointment"]."""
        requests.post(f"{self.root}/__admin/profile", json=profile, timeout=10).raise_for_status()

    def requests_log(self) -> list[dict]:
        return requests.get(f"{self.root}/__admin/requests", timeout=10).json()

    def assertions(self) -> list[dict]:
        return requests.get(f"{self.root}/__admin/assertions", timeout=10).json()


@pytest.fixture(scope="session")
def ehr_server(tmp_path_factory):
    rsa_private, rsa_public = _pem(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    ec_private, ec_public = _pem(ec.generate_private_key(ec.SECP384R1()))
    config = tmp_path_factory.mktemp("ehr") / "config.json"
    config.write_text(json.dumps({"clients": {"rs-client": rsa_public, "es-client": ec_public}, "tokenTtl": 300}))
    with node_peer("ehr_fhir_server.mjs", str(config), label="EHR server") as port:
        yield EhrPeer(port, {"RS384": ("rs-client", rsa_private), "ES384": ("es-client", ec_private)})


@pytest.fixture
def ehr(ehr_server, db):
    ehr_server.clear_and_load()
    cache.clear()
    return ehr_server


@pytest.fixture
def connection(practice, ehr):
    return EhrConnection.objects.create(
        practice=practice, base_url=ehr.base, timeout_seconds=2, write_resource=EhrConnection.WriteResource.TASK
    )


@pytest.fixture
def medicaid(db):
    payer = f.PayerFactory(name="Medicaid", cms_impacted=True)
    plan = f.PlanFactory(payer=payer, name="Medicaid Plan")
    return payer, plan


@pytest.fixture
def synthea_provider(practice):
    return f.ProviderFactory(practice=practice, npi=SYNTHEA_NPI)


@pytest.fixture
def coord(practice):
    return f.UserFactory(practice=practice, username="coord-ehr", roles=[Role.COORDINATOR])


def service_request(
    ehr,
    *,
    patient_id,
    practitioner_id,
    code="70551",
    priority="routine",
    when="2026-03-02",
    status="active",
    system="http://www.ama-assn.org/go/cpt",
    **extra,
) -> dict:
    return ehr.create(
        {
            "resourceType": "ServiceRequest",
            "status": status,
            "intent": "order",
            "priority": priority,
            "identifier": [{"system": "urn:test:order", "value": uuid.uuid4().hex}],
            "code": {"coding": [{"system": system, "code": code, "display": "MRI brain without contrast"}]},
            "subject": {"reference": f"Patient/{patient_id}"},
            "requester": {"reference": f"Practitioner/{practitioner_id}"},
            "occurrenceDateTime": when,
            "reasonCode": [{"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "G43.909"}]}],
            **extra,
        }
    )


def synthea_practitioner_id(ehr) -> str:
    return ehr.search(f"Practitioner?identifier=http://hl7.org/fhir/sid/us-npi|{SYNTHEA_NPI}")[0]["id"]


def day(s: str) -> date:
    return date.fromisoformat(s)
