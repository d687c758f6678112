"""Telnyx webhook signatures: Ed25519 over "<timestamp>|<raw body>", base64 in
`telnyx-signature-ed25519`, the Unix time in `telnyx-timestamp`.

Verified with `cryptography` (already a dependency) rather than the SDK's
helper, which needs PyNaCl. A timestamp more than 5 minutes off is refused, so
a captured request cannot be replayed later.
"""

from __future__ import annotations

import base64
import binascii
import time

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

SIGNATURE_HEADER = "telnyx-signature-ed25519"
TIMESTAMP_HEADER = "telnyx-timestamp"
TOLERANCE_SECONDS = 300


class SignatureInvalid(Exception):
    pass


def signature_verify(*, body: bytes, signature: str, timestamp: str, public_key_b64: str, now: float | None = None):
    """Raise SignatureInvalid unless `signature` signs `timestamp|body` with the key, within tolerance."""
    if not (signature and timestamp and public_key_b64):
        raise SignatureInvalid("missing signature, timestamp or key")
    try:
        sent = int(timestamp)
    except ValueError:
        raise SignatureInvalid("timestamp is not a number") from None
    if abs((now if now is not None else time.time()) - sent) > TOLERANCE_SECONDS:
        raise SignatureInvalid("timestamp outside tolerance")
    try:
        key = Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key_b64))
        raw = base64.b64decode(signature, validate=True)
        key.verify(raw, timestamp.encode() + b"|" + body)
    except (InvalidSignature, ValueError, binascii.Error) as exc:
        raise SignatureInvalid("signature does not verify") from exc


def signature_headers(*, body: bytes, private_key_bytes: bytes, now: float | None = None) -> dict[str, str]:
    """Headers the way the service sends them (the sandbox service and tests sign with this)."""
    timestamp = str(int(now if now is not None else time.time()))
    key = Ed25519PrivateKey.from_private_bytes(private_key_bytes)
    sig = base64.b64encode(key.sign(timestamp.encode() + b"|" + body)).decode()
    return {SIGNATURE_HEADER: sig, TIMESTAMP_HEADER: timestamp}
