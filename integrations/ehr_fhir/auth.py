"""SMART Backend Services: a signed JWT client assertion traded for a bearer token.

The assertion is signed per token request (fresh `jti`, `exp` five minutes
ahead at most, `aud` the token URL, `iss` = `sub` = client id); the access
token is cached until shortly before it expires.
"""

from __future__ import annotations

import hashlib
import time
import uuid

import jwt
import requests
from django.core.cache import cache

from integrations.base import IntegrationError

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ASSERTION_LIFETIME_SECONDS = 300  # the SMART spec's ceiling
# Re-fetch a little before the EHR's expiry so a token never dies mid-request.
EXPIRY_MARGIN_SECONDS = 30


def client_assertion(connection, *, now: float | None = None) -> str:
    """A freshly signed client assertion for `connection`."""
    if not (connection.client_id and connection.private_key_pem and connection.token_url):
        raise IntegrationError(
            "The EHR connection needs a client id, a private key and a token URL for SMART Backend Services.",
            permanent=True,
        )
    issued = int(now if now is not None else time.time())
    claims = {
        "iss": connection.client_id,
        "sub": connection.client_id,
        "aud": connection.token_url,
        "exp": issued + ASSERTION_LIFETIME_SECONDS,
        "iat": issued,
        "jti": uuid.uuid4().hex,
    }
    headers = {"typ": "JWT"}
    if connection.key_id:
        headers["kid"] = connection.key_id
    try:
        return jwt.encode(claims, connection.private_key_pem, algorithm=connection.algorithm, headers=headers)
    except (ValueError, TypeError, jwt.PyJWTError) as exc:
        # The message names the problem, never the key.
        raise IntegrationError(
            f"Cannot sign the client assertion with {connection.algorithm}: check the key.", permanent=True
        ) from exc


def _cache_key(connection) -> str:
    fingerprint = hashlib.sha256(
        f"{connection.client_id}|{connection.token_url}|{connection.scopes}|{connection.key_id}".encode()
    ).hexdigest()[:16]
    return f"ehr_fhir:token:{connection.pk}:{fingerprint}"


def access_token(connection, *, session: requests.Session | None = None) -> str:
    """A bearer token for `connection`, from the cache or a new token request."""
    key = _cache_key(connection)
    token = cache.get(key)
    if token:
        return token
    body = token_request(connection, session=session)
    expires_in = int(body.get("expires_in") or 300)
    cache.set(key, body["access_token"], timeout=max(expires_in - EXPIRY_MARGIN_SECONDS, 1))
    return body["access_token"]


def token_request(connection, *, session: requests.Session | None = None) -> dict:
    """One token request; the token endpoint's JSON answer (`access_token`, `expires_in`, granted `scope`)."""
    http = session or requests
    try:
        response = http.post(
            connection.token_url,
            data={
                "grant_type": "client_credentials",
                "scope": connection.scopes,
                "client_assertion_type": ASSERTION_TYPE,
                "client_assertion": client_assertion(connection),
            },
            headers={"Accept": "application/json"},
            timeout=connection.timeout_seconds,
        )
    except requests.RequestException as exc:
        raise IntegrationError(f"EHR token endpoint unreachable: {exc.__class__.__name__}") from exc
    if response.status_code >= 500:
        raise IntegrationError(f"EHR token endpoint answered HTTP {response.status_code}.")
    try:
        body = response.json()
    except ValueError as exc:
        raise IntegrationError("EHR token endpoint answered with invalid JSON.") from exc
    if response.status_code != 200 or not body.get("access_token"):
        reason = body.get("error_description") or body.get("error") or f"HTTP {response.status_code}"
        raise IntegrationError(f"EHR refused the token request: {reason}", permanent=True)
    return body


def forget_token(connection) -> None:
    cache.delete(_cache_key(connection))
