"""The fax services behind one small interface: Telnyx (its official SDK) and the embedded sandbox.

This module is the only place that imports `telnyx`; it turns the SDK's
errors into `IntegrationError` (a 4xx is permanent, a timeout, 429 or 5xx is
not). Our own redials (busy, no answer) are the channel's, so the SDK's
automatic retries are off.
"""

from __future__ import annotations

import io
import json
import uuid
from dataclasses import dataclass
from datetime import timedelta

import requests
from django.utils import timezone

from integrations.base import IntegrationError
from integrations.fax.config import INBOUND_MAX_BYTES, FaxConfig, fax_config

CONNECT_TIMEOUT, READ_TIMEOUT = 5, 30


@dataclass(frozen=True)
class FaxJob:
    to: str
    from_: str
    media_url: str
    client_state: str  # our dial's id, echoed back in the service's events
    webhook_url: str


class TelnyxBackend:
    name = "telnyx"

    def __init__(self, config: FaxConfig):
        import telnyx

        self._telnyx = telnyx
        kwargs = {"api_key": config.api_key, "max_retries": 0, "timeout": READ_TIMEOUT}
        if config.api_base_url:
            kwargs["base_url"] = config.api_base_url
        self.client = telnyx.Telnyx(**kwargs)
        self.config = config

    def send(self, job: FaxJob) -> str:
        """Hand the fax to Telnyx, which fetches the PDF from `media_url`. Returns Telnyx's fax id."""
        t = self._telnyx
        try:
            response = self.client.faxes.create(
                connection_id=self.config.connection_id,
                from_=job.from_,
                to=job.to,
                media_url=job.media_url,
                client_state=job.client_state,
                webhook_url=job.webhook_url,
                store_media=False,
            )
        except (t.APITimeoutError, t.APIConnectionError) as exc:
            raise IntegrationError(f"Telnyx not reachable: {type(exc).__name__}") from exc
        except t.APIStatusError as exc:
            permanent = exc.status_code < 500 and exc.status_code != 429
            raise IntegrationError(f"Telnyx refused the fax (HTTP {exc.status_code})", permanent=permanent) from exc
        fax_id = response.data.id if response.data else None
        if not fax_id:
            raise IntegrationError("Telnyx accepted the fax without an id")
        return fax_id

    def fetch_media(self, url: str) -> bytes:
        """A received fax's PDF (Telnyx gives a short-lived link in the event)."""
        return fetch_url(url)


def fetch_url(url: str) -> bytes:
    try:
        with requests.get(url, timeout=(CONNECT_TIMEOUT, READ_TIMEOUT), stream=True) as response:
            if response.status_code >= 400:
                raise IntegrationError(
                    f"fax media: HTTP {response.status_code}", permanent=response.status_code in (403, 404, 410)
                )
            buffer = io.BytesIO()
            for chunk in response.iter_content(64 * 1024):
                buffer.write(chunk)
                if buffer.tell() > INBOUND_MAX_BYTES:
                    raise IntegrationError("fax media larger than the limit", permanent=True)
            return buffer.getvalue()
    except requests.RequestException as exc:
        raise IntegrationError(f"fax media not reachable: {type(exc).__name__}") from exc


class SandboxBackend:
    """The embedded fax service: no account, no phone line. A sent fax is "delivered" after
    FAX_SANDBOX_DELAY_SECONDS by `sandbox_report_due` (scheduled every minute), which signs its
    events like Telnyx and hands them to the same webhook code. A number ending in 0001 is always
    busy, one ending in 0002 is not a fax line (a permanent failure)."""

    name = "sandbox"

    def __init__(self, config: FaxConfig):
        self.config = config

    def send(self, job: FaxJob) -> str:
        from integrations.fax.models import OutboundFax, SandboxFax

        # The sandbox "fetches" the media as the real service would: the bytes behind the token.
        token = job.media_url.rstrip("/").rsplit("/", 1)[-1].removesuffix(".pdf")
        outbound = OutboundFax.objects.select_related("document").filter(media_token=token).first()
        if outbound is None:
            raise IntegrationError("sandbox: the media URL does not resolve", permanent=True)
        with outbound.document.file.open("rb") as fh:
            content = fh.read()
        digits = "".join(ch for ch in job.to if ch.isdigit())
        outcome = {"0001": "user_busy", "0002": "destination_invalid"}.get(digits[-4:], "delivered")
        fax = SandboxFax.objects.create(
            vendor_fax_id=str(uuid.uuid4()),
            to_number=job.to,
            from_number=job.from_,
            media_url=job.client_state,
            content=content,
            outcome=outcome,
            pages=pdf_pages(content),
            due_at=timezone.now() + timedelta(seconds=self.config.sandbox_delay_seconds),
        )
        return fax.vendor_fax_id

    def fetch_media(self, url: str) -> bytes:
        from integrations.fax.models import SandboxFax

        if not url.startswith("sandbox://"):
            return fetch_url(url)
        fax = SandboxFax.objects.filter(vendor_fax_id=url.removeprefix("sandbox://")).first()
        if fax is None:
            raise IntegrationError("sandbox: no such received fax", permanent=True)
        return bytes(fax.content)


def pdf_pages(content: bytes) -> int:
    from pypdf import PdfReader

    try:
        return len(PdfReader(io.BytesIO(content)).pages)
    except Exception:  # the sandbox reports what it can; a real service would refuse the file
        return 1


def backend():
    config = fax_config()
    return TelnyxBackend(config) if config.backend == "telnyx" else SandboxBackend(config)


def event_body(event_type: str, payload: dict, *, occurred_at=None) -> bytes:
    """A webhook body in Telnyx's envelope (the sandbox and tests build events with it)."""
    envelope = {
        "data": {
            "event_type": event_type,
            "id": str(uuid.uuid4()),
            "occurred_at": (occurred_at or timezone.now()).isoformat(),
            "payload": payload,
            "record_type": "event",
        },
        "meta": {"attempt": 1},
    }
    return json.dumps(envelope).encode()
