"""Demo wiring (embedded setup only): the demo's X12 payers go through the app's sandbox clearinghouse.

Called by `cases.demo.demo_seed`. One `Clearinghouse` row points at
/sandbox/clearinghouse/core/ on this app (basic authentication, a generated
password stored encrypted), each X12 payer gets a route through it, and cases
the seed placed in `submitted` or `pended` are registered with the sandbox as
received, so the next 278 inquiry (polled every 10 minutes) decides them.
"""

from __future__ import annotations

import random
import secrets

from django.conf import settings
from django.utils import timezone

from cases.models import PriorAuthCase, Status
from integrations.submission.models import PayerLink
from integrations.x12_278.models import Clearinghouse, PayerRoute, SandboxX12Request
from integrations.x12_278.sandbox import DRAW, WEIGHTS
from payers.models import Channel, Payer

DEMO_POLL_MINUTES = 10


def demo_x12_sandbox(*, base_url: str, out=None, **_) -> int:
    if not settings.SANDBOX_ENABLED:
        return 0
    say = out or (lambda line: None)
    ch = Clearinghouse.objects.filter(name="Sandbox clearinghouse").first() or Clearinghouse(
        name="Sandbox clearinghouse", sender_id="DEMOPRACTICE", receiver_id="SANDBOXCH", username="demo"
    )
    ch.endpoint_url = f"{base_url.rstrip('/')}/sandbox/clearinghouse/core/"
    if not ch.password_encrypted:
        ch.set_password(secrets.token_urlsafe(18))
    ch.save()
    rng = random.Random(278)
    registered = 0
    for payer in Payer.objects.filter(default_channel=Channel.X12_278):
        PayerRoute.objects.get_or_create(payer=payer, defaults={"clearinghouse": ch})
        link, _ = PayerLink.objects.get_or_create(payer=payer)
        link.poll_minutes = DEMO_POLL_MINUTES
        link.save(update_fields=["poll_minutes"])
        waiting = PriorAuthCase.objects.filter(payer=payer, status__in=[Status.SUBMITTED, Status.PENDED])
        for case in waiting.select_related("order__coverage"):
            action = "A4" if case.status == Status.PENDED else rng.choices(DRAW, weights=WEIGHTS)[0]
            SandboxX12Request.objects.get_or_create(
                trace=f"CASE-{case.pk}",  # no Submission row: the payer knows it as case-<id>
                defaults={
                    "sender_id": ch.sender_id,
                    "control_number": f"S{case.pk:08d}"[-9:],
                    "payload_id": f"seed-{case.pk}",
                    "member_id": case.order.coverage.member_id if case.order.coverage_id else "",
                    "action": action,
                    "authorization_number": f"SBX{rng.randint(10**8, 10**9 - 1)}",
                    "response": "",
                    "received_at": case.submitted_at or timezone.now(),
                },
            )
            registered += 1
    say(f"Sandbox clearinghouse: X12 payers go through {ch.endpoint_url}; {registered} case(s) are with it.")
    return registered
