"""Authenticated PAS calls against the sandbox payer over real HTTP (live_server): the token is
fetched with a signed client assertion, cached, refreshed once on 401; the sandbox refuses a
missing, expired, wrongly signed or foreign token and a bad or replayed assertion; no token or key
reaches a log line, an Exchange row, the timeline or admin."""

import hashlib
import logging
import os
import time
from unittest import mock

import jwt
import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.core.cache import cache

from cases.models import CaseEvent, Status
from integrations.base import IntegrationError
from integrations.pas import auth
from integrations.pas.channel import PasChannel
from integrations.pas.client import client_for
from integrations.pas.models import PayerConnection
from integrations.pas.secrets import unseal
from integrations.submission.models import Exchange, Submission
from integrations.submission.services import submission_request, submission_send

pytestmark = pytest.mark.django_db(transaction=True)


def _pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def _sandbox_token(sandboxed, **claims) -> str:
    from integrations.pas.sandbox_auth import ISSUER, token_key

    now = int(time.time())
    body = {"iss": ISSUER, "aud": sandboxed.slug, "sub": "x", "iat": now, "exp": now + 60, **claims}
    return jwt.encode(body, claims.pop("key", None) or token_key(), algorithm="HS256")


def _post(url, token=None):
    headers = {"Content-Type": "application/fhir+json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return requests.post(f"{url}/Claim/$inquire", data="{}", headers=headers, timeout=10)


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()


def test_the_key_is_stored_encrypted(sandboxed, pas_payer):
    connection = PayerConnection.objects.get(payer=pas_payer)
    assert connection.private_key_encrypted.startswith("enc:v1:")
    assert "PRIVATE KEY" not in connection.private_key_encrypted
    assert "PRIVATE KEY" in unseal(connection.private_key_encrypted)


def test_submit_fetches_a_token_once_and_reuses_it(sandboxed, pas_payer, pas_case, coordinator):
    with mock.patch.object(auth, "client_assertion", wraps=auth.client_assertion) as signed:
        sub = submission_request(case=pas_case, actor=coordinator)
        submission_send(submission_id=sub.pk)
        pas_case.refresh_from_db()
        assert pas_case.status == Status.APPROVED  # sandbox decides at once
        sub.refresh_from_db()
        decision = PasChannel().check_status(pas_case, submission_key=sub.idempotency_key)
        assert decision.status == "approved"
    assert signed.call_count == 1  # one token request; the second call used the cached token


def test_a_401_drops_the_cached_token_and_retries_once(sandboxed, pas_payer, pas_case, coordinator):
    connection = PayerConnection.objects.get(payer=pas_payer)
    # A token the payer no longer accepts (expired early / revoked) sits in our cache.
    cache.set(auth._cache_key(connection), _sandbox_token(sandboxed, exp=int(time.time()) - 5), 300)
    with mock.patch.object(auth, "client_assertion", wraps=auth.client_assertion) as signed:
        sub = submission_request(case=pas_case, actor=coordinator)
        submission_send(submission_id=sub.pk)
    sub.refresh_from_db()
    assert sub.state == Submission.State.ACCEPTED
    assert signed.call_count == 1  # the refresh


def test_a_401_after_the_refresh_is_a_permanent_error_naming_no_secret(sandboxed, pas_payer):
    connection = PayerConnection.objects.get(payer=pas_payer)
    client = client_for(pas_payer)
    with mock.patch.object(auth, "access_token", return_value="not-a-token") as got:
        with pytest.raises(IntegrationError) as err:
            client.inquire({"resourceType": "Bundle"})
    assert got.call_count == 2  # the first try and the one retry, never a loop
    assert err.value.permanent and "HTTP 401" in str(err.value) and "not-a-token" not in str(err.value)
    assert connection.pk


@pytest.mark.parametrize(
    "token, said",
    [
        (None, "a bearer token is required"),
        ("", "a bearer token is required"),
        ("garbage", "the bearer token is not valid"),
        ("expired", "the bearer token has expired"),
        ("wrong-key", "the bearer token is not valid"),
        ("other-payer", "the bearer token is for another payer"),
    ],
)
def test_the_sandbox_refuses_a_call_without_a_good_token(sandboxed, pas_payer, token, said):
    if token == "expired":
        token = _sandbox_token(sandboxed, exp=int(time.time()) - 1)
    elif token == "wrong-key":
        token = jwt.encode({"iss": "priorauth-sandbox-payer", "aud": sandboxed.slug, "exp": time.time() + 60}, "k" * 32)
    elif token == "other-payer":
        token = _sandbox_token(sandboxed, aud="another-payer")
    for path in ("Claim/$submit", "Claim/$inquire", "Subscription"):
        headers = {"Content-Type": "application/fhir+json"}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        r = requests.post(f"{pas_payer.fhir_base_url}/{path}", data="{}", headers=headers, timeout=10)
        assert r.status_code == 401, path
        assert said in r.json()["issue"][0]["details"]["text"]
        assert r.headers["WWW-Authenticate"].startswith("Bearer ")


def test_a_good_token_is_let_through(sandboxed, pas_payer):
    r = _post(pas_payer.fhir_base_url, _sandbox_token(sandboxed))
    assert r.status_code == 400  # past the auth check, refused for its body


def _token_request(sandboxed, pas_payer, assertion):
    connection = PayerConnection.objects.get(payer=pas_payer)
    return requests.post(
        connection.token_url,
        data={
            "grant_type": "client_credentials",
            "client_assertion_type": auth.ASSERTION_TYPE,
            "client_assertion": assertion,
            "scope": connection.scopes,
        },
        timeout=10,
    )


def test_the_token_endpoint_refuses_an_assertion_signed_with_another_key(sandboxed, pas_payer):
    connection = PayerConnection.objects.get(payer=pas_payer)
    connection.set_private_key(_pem())  # not the key the payer registered
    connection.save()
    with pytest.raises(IntegrationError) as err:
        client_for(pas_payer).inquire({"resourceType": "Bundle"})
    assert err.value.permanent and "refused our client assertion (HTTP 401)" in str(err.value)
    assert "InvalidSignatureError" in str(err.value)


def test_the_token_endpoint_refuses_a_replayed_or_wrongly_addressed_assertion(sandboxed, pas_payer):
    connection = PayerConnection.objects.get(payer=pas_payer)
    assertion = auth.client_assertion(connection)
    assert _token_request(sandboxed, pas_payer, assertion).status_code == 200
    again = _token_request(sandboxed, pas_payer, assertion)
    assert again.status_code == 401 and "used before" in again.json()["error_description"]
    connection.token_url = connection.token_url.replace("/token", "/other")
    wrong_aud = auth.client_assertion(connection)
    r = _token_request(sandboxed, pas_payer, wrong_aud)
    assert r.status_code == 401 and "InvalidAudienceError" in r.json()["error_description"]


def test_the_token_endpoint_refuses_an_expired_assertion(sandboxed, pas_payer):
    connection = PayerConnection.objects.get(payer=pas_payer)
    old = auth.client_assertion(connection, now=time.time() - 600)
    r = _token_request(sandboxed, pas_payer, old)
    assert r.status_code == 401 and "ExpiredSignatureError" in r.json()["error_description"]


def test_without_a_connection_the_payer_refusal_says_so(sandboxed, pas_payer):
    PayerConnection.objects.filter(payer=pas_payer).delete()
    with pytest.raises(IntegrationError) as err:
        client_for(pas_payer).inquire({"resourceType": "Bundle"})
    assert err.value.permanent and "no credentials are configured for this payer" in str(err.value)


def test_no_token_or_key_reaches_logs_rows_or_timeline(sandboxed, pas_payer, pas_case, coordinator, caplog):
    caplog.set_level(logging.DEBUG)
    connection = PayerConnection.objects.get(payer=pas_payer)
    pem = unseal(connection.private_key_encrypted)
    issued = []
    real = auth.access_token

    def spy(*args, **kwargs):
        issued.append(real(*args, **kwargs))
        return issued[-1]

    with mock.patch.object(auth, "access_token", side_effect=spy):
        sub = submission_request(case=pas_case, actor=coordinator)
        submission_send(submission_id=sub.pk)
    assert issued
    secrets = [issued[0], pem.splitlines()[1], connection.private_key_encrypted]
    stored = " ".join(
        [caplog.text]
        + [str(e.__dict__) for e in Exchange.objects.all()]
        + [str(s.__dict__) for s in Submission.objects.all()]
        + [f"{e.message} {e.details}" for e in CaseEvent.objects.filter(case=pas_case)]
    )
    for secret in secrets:
        assert secret not in stored


def test_admin_never_shows_the_key(admin_client, sandboxed, pas_payer):
    connection = PayerConnection.objects.get(payer=pas_payer)
    pem = unseal(connection.private_key_encrypted)
    page = admin_client.get(f"/admin/pas/payerconnection/{connection.pk}/change/").content.decode()
    assert "PRIVATE KEY" not in page and connection.private_key_encrypted[10:40] not in page
    assert pem.splitlines()[1] not in page
    # Saving the form without a key keeps the stored one; pasting one replaces it, sealed.
    data = {
        "payer": pas_payer.pk,
        "auth": connection.auth,
        "token_url": connection.token_url,
        "client_id": connection.client_id,
        "scopes": connection.scopes,
        "key_id": connection.key_id,
        "algorithm": connection.algorithm,
        "client_cert_pem": "",
        "max_document_bytes": 1000,
        "private_key_pem": "",
        "client_cert_key_pem": "",
    }
    r = admin_client.post(f"/admin/pas/payerconnection/{connection.pk}/change/", data)
    assert r.status_code == 302
    connection.refresh_from_db()
    assert unseal(connection.private_key_encrypted) == pem and connection.max_document_bytes == 1000
    new = _pem()
    admin_client.post(f"/admin/pas/payerconnection/{connection.pk}/change/", data | {"private_key_pem": new})
    connection.refresh_from_db()
    assert unseal(connection.private_key_encrypted) == new.strip()


def test_client_certificate_files_are_private_and_removed(pas_payer):
    connection = PayerConnection(payer=pas_payer, client_cert_pem="-----BEGIN CERTIFICATE-----\nx\n")
    connection.set_client_cert_key("-----BEGIN PRIVATE KEY-----\ny\n")
    with auth.client_cert(connection) as (cert, key):
        assert oct(os.stat(key).st_mode & 0o777) == "0o600"
        assert open(key).read().startswith("-----BEGIN PRIVATE KEY")
    assert not os.path.exists(cert) and not os.path.exists(key)
    with auth.client_cert(PayerConnection(payer=pas_payer)) as none:
        assert none is None


def test_the_client_presents_the_certificate(pas_payer):
    connection = PayerConnection(payer=pas_payer, auth=PayerConnection.Auth.NONE, client_cert_pem="CERT")
    connection.set_client_cert_key("KEY")
    connection.save()
    seen = {}

    def fake_post(url, **kwargs):
        seen["cert"] = kwargs["cert"]
        seen["files"] = [open(p).read() for p in kwargs["cert"]]
        raise requests.ConnectionError("stop here")

    client = client_for(pas_payer)
    with mock.patch("integrations.pas.client._session") as session:
        session.return_value.post.side_effect = fake_post
        with pytest.raises(IntegrationError):
            client.inquire({})
    assert seen["files"] == ["CERT", "KEY"]
    assert hashlib.sha256(b"KEY").hexdigest() not in connection.client_cert_key_encrypted
