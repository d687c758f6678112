"""The embedded fax service's side: reporting what happened to the faxes it was given, and
"receiving" a fax for the demo. Its events are signed with the sandbox key and go through
`fax_event_receive`, the code the real webhook runs, signature check included."""

from __future__ import annotations

import uuid

from django.utils import timezone

from integrations.fax.backends import event_body
from integrations.fax.config import sandbox_private_key_bytes
from integrations.fax.models import SandboxFax
from integrations.fax.services import FaxEventUnknown, fax_event_receive
from integrations.fax.signature import signature_headers


def sandbox_deliver(event_type: str, payload: dict) -> str:
    body = event_body(event_type, payload)
    return fax_event_receive(
        body=body, headers=signature_headers(body=body, private_key_bytes=sandbox_private_key_bytes())
    )


def sandbox_report_due(*, now=None) -> int:
    """Report every sandbox fax whose delay is over: queued … delivered, or failed with its reason."""
    now = now or timezone.now()
    count = 0
    for fax in SandboxFax.objects.filter(direction="outbound", reported_at__isnull=True, due_at__lte=now)[:50]:
        base = {"fax_id": fax.vendor_fax_id, "to": fax.to_number, "from": fax.from_number, "direction": "outbound"}
        try:
            for event_type in ("fax.queued", "fax.media.processed", "fax.sending.started"):
                sandbox_deliver(event_type, base)
            if fax.outcome == "delivered":
                sandbox_deliver(
                    "fax.delivered",
                    {**base, "status": "delivered", "page_count": fax.pages, "call_duration_secs": 30 * fax.pages},
                )
            else:
                sandbox_deliver("fax.failed", {**base, "status": "failed", "failure_reason": fax.outcome})
        except FaxEventUnknown:
            continue  # the send's row is not committed yet: next minute
        SandboxFax.objects.filter(pk=fax.pk).update(reported_at=now)
        count += 1
    return count


def sandbox_receive(*, to: str, content: bytes, from_number: str = "+15550107701") -> str:
    """A fax arrives at the practice's number (demo and tests): the service's `fax.received` event."""
    from integrations.fax.backends import pdf_pages

    fax = SandboxFax.objects.create(
        vendor_fax_id=str(uuid.uuid4()),
        direction="inbound",
        to_number=to,
        from_number=from_number,
        content=content,
        pages=pdf_pages(content),
        reported_at=timezone.now(),
    )
    sandbox_deliver(
        "fax.received",
        {
            "fax_id": fax.vendor_fax_id,
            "direction": "inbound",
            "from": from_number,
            "to": to,
            "media_url": f"sandbox://{fax.vendor_fax_id}",
            "page_count": fax.pages,
            "status": "received",
            "partial_content": False,
        },
    )
    return fax.vendor_fax_id
