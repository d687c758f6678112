"""Authenticated calls to a payer's PAS endpoint: OAuth 2.0 client credentials with a
signed JWT client assertion (`private_key_jwt`, SMART Backend Services / UDAP B2B
style), and optional mutual TLS with the payer's client certificate.

The assertion is signed per token request (fresh `jti`, `exp` five minutes ahead
at most, `aud` = the token URL, `iss` = `sub` = client id). The access token is
cached until 30 s before it expires and is never written anywhere else: not in a
log line, an error message, an Exchange row, a task argument or the timeline.
The private keys are decrypted only in memory, while signing or connecting.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import time
import uuid

import jwt
import requests
from django.core.cache import cache

from integrations.base import IntegrationError
from integrations.pas.secrets import unseal

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ASSERTION_LIFETIME_SECONDS = 300
EXPIRY_MARGIN_SECONDS = 30


def client_assertion(connection, *, now: float | None = None) -> str:
    if not (connection.client_id and connection.private_key_encrypted and connection.token_url):
        raise IntegrationError(
            "The payer's PAS connection needs a token URL, a client id and a private key.", permanent=True
        )
    issued = int(now if now is not None else time.time())
    claims = {
        "iss": connection.client_id,
        "sub": connection.client_id,
        "aud": connection.token_url,
        "iat": issued,
        "exp": issued + ASSERTION_LIFETIME_SECONDS,
        "jti": uuid.uuid4().hex,
    }
    headers = {"typ": "JWT", **({"kid": connection.key_id} if connection.key_id else {})}
    try:
        return jwt.encode(
            claims, unseal(connection.private_key_encrypted), algorithm=connection.algorithm, headers=headers
        )
    except (ValueError, TypeError, jwt.PyJWTError) as exc:
        # Names the algorithm, never the key.
        raise IntegrationError(
            f"Cannot sign the PAS client assertion with {connection.algorithm}: check the private key.", permanent=True
        ) from exc


def _cache_key(connection) -> str:
    fingerprint = hashlib.sha256(
        f"{connection.client_id}|{connection.token_url}|{connection.scopes}|{connection.key_id}|"
        f"{connection.private_key_encrypted[-16:]}".encode()
    ).hexdigest()[:16]
    return f"pas:token:{connection.pk}:{fingerprint}"


def access_token(connection, *, session: requests.Session, timeout) -> str:
    """A bearer token for the payer: from the cache, else a new client-credentials request."""
    key = _cache_key(connection)
    token = cache.get(key)
    if token:
        return token
    with client_cert(connection) as cert:
        try:
            response = session.post(
                connection.token_url,
                data={
                    "grant_type": "client_credentials",
                    "scope": connection.scopes,
                    "client_assertion_type": ASSERTION_TYPE,
                    "client_assertion": client_assertion(connection),
                },
                headers={"Accept": "application/json"},
                timeout=timeout,
                cert=cert,
            )
        except requests.Timeout:
            raise IntegrationError("token: the payer's token endpoint did not answer in time") from None
        except requests.RequestException as exc:
            raise IntegrationError(f"token: cannot reach the payer's token endpoint ({type(exc).__name__})") from None
    if response.status_code == 429 or response.status_code >= 500:
        raise IntegrationError(f"token: the payer's token endpoint answered HTTP {response.status_code}")
    try:
        body = response.json()
    except ValueError:
        body = {}
    if response.status_code != 200 or not isinstance(body, dict) or not body.get("access_token"):
        said = body.get("error_description") or body.get("error") if isinstance(body, dict) else ""
        raise IntegrationError(
            f"token: the payer refused our client assertion (HTTP {response.status_code}): {str(said or '')[:200]}",
            permanent=True,
        )
    try:
        expires_in = int(body.get("expires_in") or 300)
    except (TypeError, ValueError):
        expires_in = 300
    cache.set(key, body["access_token"], timeout=max(expires_in - EXPIRY_MARGIN_SECONDS, 1))
    return body["access_token"]


def forget_token(connection) -> None:
    cache.delete(_cache_key(connection))


@contextlib.contextmanager
def client_cert(connection):
    """`requests`' `cert` for mutual TLS: (certificate file, key file), or None.

    requests needs files: the decrypted key is written to a private (0600) temporary
    file for the length of one call and removed right after.
    """
    if connection is None or not (connection.client_cert_pem and connection.client_cert_key_encrypted):
        yield None
        return
    directory = tempfile.mkdtemp(prefix="pas-mtls-")
    cert_path, key_path = os.path.join(directory, "cert.pem"), os.path.join(directory, "key.pem")
    try:
        for path, text in (
            (cert_path, connection.client_cert_pem),
            (key_path, unseal(connection.client_cert_key_encrypted)),
        ):
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(text)
        yield (cert_path, key_path)
    finally:
        for path in (cert_path, key_path):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
        os.rmdir(directory)
