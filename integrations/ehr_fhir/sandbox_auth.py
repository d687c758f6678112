"""The sandbox EHR's SMART Backend Services token endpoint and bearer check (SANDBOX_ENABLED only).

A real EHR answers no FHIR read without a bearer token from its token endpoint, got with a signed client
assertion (`private_key_jwt`); the built-in sandbox asks the same, so the demo exercises the production path.
The sandbox's registered clients are this app's EHR connections that point at it: a connection's client id is
the assertion's `iss`, and the public half of its key checks the signature (registration, in a real EHR, is
the practice uploading that public key). Tokens are HS256 JWTs of the sandbox (key derived from SECRET_KEY).
"""

from __future__ import annotations

import hashlib
import time
import uuid

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    load_pem_private_key,
)
from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.core.cache import cache
from django.http import Http404, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from integrations.ehr_fhir.models import EhrConnection

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ISSUER = "priorauth-sandbox-ehr"
TOKEN_LIFETIME_SECONDS = 300
SANDBOX_PATH = "/sandbox/ehr/fhir"


def sandbox_connection_fields(app_base_url: str) -> dict:
    """EhrConnection fields for a practice connected to this sandbox EHR with its own fresh client key."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    base = app_base_url.rstrip("/")
    return {
        "name": "Sandbox EHR",
        "base_url": f"{base}{SANDBOX_PATH}/",
        "auth": EhrConnection.Auth.SMART_BACKEND,
        "client_id": f"sandbox-client-{uuid.uuid4().hex[:12]}",
        "private_key_pem": key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()).decode(),
        "key_id": "sandbox-1",
        "token_url": f"{base}/sandbox/ehr/token",
        "algorithm": EhrConnection.Algorithm.RS384,
    }


def _token_key() -> bytes:
    return hashlib.sha256(b"priorauth.sandbox-ehr.tokens|" + settings.SECRET_KEY.encode()).digest()


def _refuse(error: str, description: str, status: int = 400) -> JsonResponse:
    return JsonResponse({"error": error, "error_description": description}, status=status)


def _client(client_id: str) -> EhrConnection | None:
    return (
        EhrConnection.objects.filter(
            auth=EhrConnection.Auth.SMART_BACKEND, client_id=client_id, base_url__contains=SANDBOX_PATH
        )
        .exclude(private_key_pem="")
        .first()
    )


@csrf_exempt
@login_not_required
@require_POST
def token(request):
    if not settings.SANDBOX_ENABLED:
        raise Http404
    if request.POST.get("grant_type") != "client_credentials":
        return _refuse("unsupported_grant_type", "grant_type must be client_credentials")
    if request.POST.get("client_assertion_type") != ASSERTION_TYPE:
        return _refuse("invalid_client", "client_assertion_type must be jwt-bearer")
    assertion = request.POST.get("client_assertion", "")
    try:
        claims = jwt.decode(assertion, options={"verify_signature": False})
    except jwt.PyJWTError:
        return _refuse("invalid_client", "client_assertion is not a JWT", 401)
    connection = _client(str(claims.get("iss") or ""))
    if connection is None:
        return _refuse("invalid_client", "no client with this id is registered at this sandbox EHR", 401)
    try:
        public_key = load_pem_private_key(connection.private_key_pem.encode(), password=None).public_key()
        claims = jwt.decode(
            assertion,
            public_key,
            algorithms=[connection.algorithm],
            audience=request.build_absolute_uri(request.path),
            options={"require": ["exp", "iss", "sub", "aud", "jti"]},
        )
    except (ValueError, TypeError, jwt.PyJWTError) as exc:
        return _refuse("invalid_client", f"client_assertion refused: {type(exc).__name__}", 401)
    if claims["sub"] != claims["iss"] or claims["exp"] > time.time() + 300:
        return _refuse("invalid_client", "sub must equal iss, and exp be at most 5 minutes ahead", 401)
    # A replayed assertion is refused (SMART: jti unique within the assertion's lifetime).
    if not cache.add(f"sandbox-ehr:jti:{claims['jti']}", 1, timeout=600):
        return _refuse("invalid_client", "client_assertion jti was already used", 401)
    now = int(time.time())
    access = jwt.encode(
        {"iss": ISSUER, "sub": claims["iss"], "iat": now, "exp": now + TOKEN_LIFETIME_SECONDS, "jti": uuid.uuid4().hex},
        _token_key(),
        algorithm="HS256",
    )
    return JsonResponse(
        {"access_token": access, "token_type": "bearer", "expires_in": TOKEN_LIFETIME_SECONDS, "scope": "system/*.rs"}
    )


def bearer_refusal(request) -> str:
    """Why the request's bearer token is not good for the sandbox EHR ('' when it is)."""
    header = request.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        return "a bearer token is required (SMART Backend Services)"
    try:
        claims = jwt.decode(header[7:], _token_key(), algorithms=["HS256"], issuer=ISSUER)
    except jwt.ExpiredSignatureError:
        return "the bearer token has expired"
    except jwt.PyJWTError:
        return "the bearer token is not valid"
    if _client(str(claims.get("sub") or "")) is None:
        return "the bearer token's client is no longer registered"
    return ""
