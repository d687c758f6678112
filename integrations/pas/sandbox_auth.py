"""The sandbox payer's OAuth 2.0 token endpoint and bearer-token check (SANDBOX_ENABLED only).

`POST /sandbox/payer/<slug>/token` takes `grant_type=client_credentials` with a
`private_key_jwt` client assertion and answers a bearer token, as a real payer
does: the assertion must be signed (RS384 / ES384) by the key whose public half
is on the `SandboxPayer`, with `iss` = `sub` = its client id, `aud` = this token
URL, an `exp` at most 5 minutes ahead, and a `jti` not seen before. The token
is an HS256 JWT of this sandbox (key derived from SECRET_KEY) that expires after
`token_lifetime_seconds`. `bearer_refusal` says why a call's token is not good
(missing, malformed, wrongly signed, expired, for another payer) — answered 401.
"""

from __future__ import annotations

import hashlib
import time
import uuid

import jwt
from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.core.cache import cache
from django.http import Http404, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from integrations.pas.models import SandboxPayer

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ISSUER = "priorauth-sandbox-payer"


def token_key() -> bytes:
    return hashlib.sha256(b"priorauth.sandbox-payer.tokens|" + settings.SECRET_KEY.encode()).digest()


def _refuse(error: str, description: str, status: int = 400) -> JsonResponse:
    return JsonResponse({"error": error, "error_description": description}, status=status)


def token_url(request, slug: str) -> str:
    return request.build_absolute_uri(f"/sandbox/payer/{slug}/token")


@csrf_exempt
@login_not_required
@require_POST
def token(request, payer: str):
    if not settings.SANDBOX_ENABLED:
        raise Http404
    sp = SandboxPayer.objects.filter(slug=payer).first()
    if sp is None:
        raise Http404
    if request.POST.get("grant_type") != "client_credentials":
        return _refuse("unsupported_grant_type", "grant_type must be client_credentials")
    if request.POST.get("client_assertion_type") != ASSERTION_TYPE:
        return _refuse("invalid_client", "client_assertion_type must be jwt-bearer")
    assertion = request.POST.get("client_assertion", "")
    if not (sp.client_id and sp.client_public_key_pem):
        return _refuse("invalid_client", "no client is registered at this sandbox payer", 401)
    try:
        claims = jwt.decode(
            assertion,
            sp.client_public_key_pem,
            algorithms=["RS384", "ES384"],
            audience=token_url(request, payer),
            issuer=sp.client_id,
            options={"require": ["exp", "iss", "sub", "aud", "jti"]},
        )
    except jwt.PyJWTError as exc:
        return _refuse("invalid_client", f"client assertion refused: {type(exc).__name__}", 401)
    if claims["sub"] != sp.client_id:
        return _refuse("invalid_client", "sub must be the client id", 401)
    if claims["exp"] - time.time() > 300:
        return _refuse("invalid_client", "the assertion may live 5 minutes at most", 401)
    if not cache.add(f"sandbox-payer:jti:{sp.slug}:{claims['jti']}", 1, timeout=600):
        return _refuse("invalid_client", "this assertion (jti) was used before", 401)
    now = int(time.time())
    access = jwt.encode(
        {
            "iss": ISSUER,
            "aud": sp.slug,
            "sub": sp.client_id,
            "iat": now,
            "exp": now + sp.token_lifetime_seconds,
            "jti": uuid.uuid4().hex,
        },
        token_key(),
        algorithm="HS256",
    )
    scope = request.POST.get("scope", "")
    return JsonResponse(
        {"access_token": access, "token_type": "bearer", "expires_in": sp.token_lifetime_seconds, "scope": scope}
    )


def bearer_refusal(request, sp: SandboxPayer) -> str:
    """Why the call's bearer token is not accepted ("" = accepted, or auth not required)."""
    if not sp.require_auth:
        return ""
    header = request.headers.get("Authorization", "")
    if not header.lower().startswith("bearer ") or not header[7:].strip():
        return "a bearer token is required"
    try:
        jwt.decode(header[7:].strip(), token_key(), algorithms=["HS256"], audience=sp.slug, issuer=ISSUER)
    except jwt.ExpiredSignatureError:
        return "the bearer token has expired"
    except jwt.InvalidAudienceError:
        return "the bearer token is for another payer"
    except jwt.PyJWTError:
        return "the bearer token is not valid"
    return ""


def unauthorized(reason: str):
    """401 with an OperationOutcome and the WWW-Authenticate header a client reads."""
    from integrations.fhir_json import outcome_response

    response = outcome_response(401, f"sandbox payer: {reason}")
    response["WWW-Authenticate"] = f'Bearer error="invalid_token", error_description="{reason}"'
    return response


def sandbox_credentials_ensure(*, payer, sandbox: SandboxPayer, base_url: str):
    """Register a client at the sandbox payer and give the payer's PAS connection its key (demo, tests).

    A new RSA key is made only when the connection has none, so re-seeding keeps working tokens.
    Returns the PayerConnection.
    """
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    from integrations.pas.models import PayerConnection
    from integrations.pas.secrets import unseal

    connection, _ = PayerConnection.objects.get_or_create(payer=payer)
    if not connection.private_key_encrypted:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()
        connection.set_private_key(pem)
    private = serialization.load_pem_private_key(unseal(connection.private_key_encrypted).encode(), password=None)
    public_pem = (
        private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    connection.auth = PayerConnection.Auth.PRIVATE_KEY_JWT
    connection.algorithm = PayerConnection.Algorithm.RS384
    connection.client_id = connection.client_id or f"priorauth-{sandbox.slug}"
    connection.key_id = connection.key_id or f"{sandbox.slug}-1"
    connection.token_url = f"{base_url.rstrip('/')}/sandbox/payer/{sandbox.slug}/token"
    connection.save()
    sandbox.client_id = connection.client_id
    sandbox.client_public_key_pem = public_pem
    sandbox.require_auth = True
    sandbox.save(update_fields=["client_id", "client_public_key_pem", "require_auth"])
    return connection
