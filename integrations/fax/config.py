"""Where faxing is configured: the environment, read in one place."""

from __future__ import annotations

import base64
import hashlib
import os
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

BACKENDS = ("sandbox", "telnyx")
# A received fax larger than this is not stored (Telnyx's own outbound limit is 50 MB; a PA answer is a few pages).
INBOUND_MAX_BYTES = 25 * 1024 * 1024


@dataclass(frozen=True)
class FaxConfig:
    backend: str  # "sandbox" (embedded default: delivers after a delay) or "telnyx"
    api_key: str
    # Base64 Ed25519 public key that verifies the service's webhooks (Telnyx Mission Control: Keys).
    public_key: str
    connection_id: str  # the Telnyx Programmable Fax application id
    from_number: str  # E.164, a fax-enabled number of the account
    # The https origin the fax service calls back on and fetches our PDF from.
    public_base_url: str
    # Only for tests and sandboxes: point the SDK at a loopback stub.
    api_base_url: str
    sandbox_delay_seconds: int

    def url(self, path: str) -> str:
        return self.public_base_url.rstrip("/") + path


def fax_config() -> FaxConfig:
    """Read the fax settings. With the Telnyx backend every credential is required: a missing one
    raises `ImproperlyConfigured` rather than leaving packets unsent."""
    env = os.environ
    production = getattr(settings, "PRODUCTION", False)
    backend = env.get("FAX_BACKEND", "telnyx" if production else "sandbox").strip().lower()
    if backend not in BACKENDS:
        raise ImproperlyConfigured(f"FAX_BACKEND must be one of {BACKENDS}, not {backend!r}.")
    config = FaxConfig(
        backend=backend,
        api_key=env.get("TELNYX_API_KEY", "").strip(),
        public_key=env.get("TELNYX_PUBLIC_KEY", "").strip(),
        connection_id=env.get("TELNYX_FAX_CONNECTION_ID", "").strip(),
        from_number=env.get("FAX_FROM_NUMBER", "").strip(),
        public_base_url=env.get("FAX_PUBLIC_BASE_URL", "").strip() or getattr(settings, "PUBLIC_BASE_URL", ""),
        api_base_url=env.get("TELNYX_API_BASE_URL", "").strip(),
        sandbox_delay_seconds=int(env.get("FAX_SANDBOX_DELAY_SECONDS", "60")),
    )
    if backend == "telnyx":
        missing = [
            name
            for name, value in (
                ("TELNYX_API_KEY", config.api_key),
                ("TELNYX_PUBLIC_KEY", config.public_key),
                ("TELNYX_FAX_CONNECTION_ID", config.connection_id),
                ("FAX_FROM_NUMBER", config.from_number),
                ("PUBLIC_BASE_URL", config.public_base_url),
            )
            if not value
        ]
        if missing:
            raise ImproperlyConfigured(f"FAX_BACKEND=telnyx needs {', '.join(missing)}.")
    return config


def sandbox_private_key_bytes() -> bytes:
    """The sandbox service's Ed25519 signing key: derived from SECRET_KEY, so it signs like the real
    service and our webhook verifies it with the same code. Never used with FAX_BACKEND=telnyx."""
    return hashlib.sha256(b"fax-sandbox-ed25519:" + settings.SECRET_KEY.encode()).digest()


def verify_key(config: FaxConfig) -> str:
    """The base64 public key webhooks are verified with."""
    if config.backend == "telnyx":
        return config.public_key
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    private = Ed25519PrivateKey.from_private_bytes(sandbox_private_key_bytes())
    return base64.b64encode(private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)).decode()
