"""Secrets at rest for PAS payer connections: Fernet with a key derived from
`PAS_SECRETS_KEY` (a dedicated environment variable), else from `SECRET_KEY`.

What is stored is the token `enc:v1:<fernet token>`; the plain text exists only
in memory while a request is signed. Rotating the key means re-entering the
private keys in admin (an undecryptable value fails loudly, naming no secret).
"""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings

from integrations.base import IntegrationError

PREFIX = "enc:v1:"


def _fernet() -> Fernet:
    secret = getattr(settings, "PAS_SECRETS_KEY", "") or settings.SECRET_KEY
    # A domain-separated derivation: the same SECRET_KEY never doubles as this key.
    digest = hashlib.sha256(b"priorauth.pas.secrets|" + secret.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def seal(plain: str) -> str:
    """The stored form of a secret ("" stays "")."""
    if not plain:
        return ""
    return PREFIX + _fernet().encrypt(plain.encode()).decode()


def unseal(stored: str) -> str:
    """The secret back; raises a permanent IntegrationError when it cannot be read."""
    if not stored:
        return ""
    if not stored.startswith(PREFIX):
        raise IntegrationError("A stored PAS secret is not encrypted: enter it again in admin.", permanent=True)
    try:
        return _fernet().decrypt(stored[len(PREFIX) :].encode()).decode()
    except InvalidToken:
        raise IntegrationError(
            "A stored PAS secret cannot be decrypted (PAS_SECRETS_KEY or SECRET_KEY changed): enter it again in admin.",
            permanent=True,
        ) from None
