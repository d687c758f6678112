"""Demo wiring (embedded setup only): the demo's PAS payers are played by the app's sandbox payer.

Called by `cases.demo.demo_seed`. Each PAS payer gets a `SandboxPayer` and its
PAS base URL points at `/sandbox/payer/<slug>/fhir` on this app, with a
notification secret; each practice with a submitted or pended case subscribes
for notifications (a task the cluster runs), and the sandbox pushes each
decision within a minute; polls run every 10 minutes as the safety net.
Cases the seed placed in `submitted` are registered with the sandbox as
received, with decisions due over the next few minutes, so a fresh `make run`
shows them move to approved / partially approved / denied / pended after
"Payer notification received". Cases the seed placed in `pended` are
registered as already pended, so staff can answer one (upload a document,
"Send additional information") and watch the sandbox decide the update by
itself.
"""

from __future__ import annotations

import random
import secrets
from datetime import timedelta

from django.conf import settings
from django.utils import timezone
from django.utils.text import slugify
from django_q.tasks import async_task

from cases.models import PriorAuthCase, Status
from integrations.pas.bundle import build_inquiry_bundle
from integrations.pas.models import SandboxClaim, SandboxPayer
from integrations.pas.sandbox import requester_identifier
from integrations.pas.sandbox_auth import sandbox_credentials_ensure
from integrations.submission.models import PayerLink
from payers.models import Channel, Payer

# The demo's polls are a slow safety net, so decisions visibly arrive by the sandbox's notifications.
DEMO_POLL_MINUTES = 10


def demo_pas_sandbox(*, base_url: str, out=None, **_) -> int:
    """Point PAS payers at the sandbox payer; returns how many submitted or pended cases it has."""
    if not settings.SANDBOX_ENABLED:
        return 0
    say = out or (lambda line: None)
    rng = random.Random(57)
    now = timezone.now()
    registered = 0
    pairs: set[tuple[int, int]] = set()
    for payer in Payer.objects.filter(default_channel=Channel.PAS):
        slug = slugify(payer.name)[:50]
        sandbox, _ = SandboxPayer.objects.get_or_create(
            slug=slug,
            defaults={
                "approve_weight": 60,
                "partial_weight": 10,
                "deny_weight": 15,
                "pend_weight": 15,
                "decision_delay_seconds": 120,
                "error_rate": 0.03,
                "timeout_rate": 0.0,
            },
        )
        payer.fhir_base_url = f"{base_url.rstrip('/')}/sandbox/payer/{slug}/fhir"
        payer.save(update_fields=["fhir_base_url"])
        # The sandbox asks for a bearer token as a real payer does: the demo payer gets its key.
        sandbox_credentials_ensure(payer=payer, sandbox=sandbox, base_url=base_url)
        link, _ = PayerLink.objects.get_or_create(payer=payer)
        link.poll_minutes = DEMO_POLL_MINUTES
        # Kept across re-seeds: the sandbox's subscriptions send it back with every notification.
        link.notify_secret = link.notify_secret or secrets.token_urlsafe(24)
        link.save(update_fields=["poll_minutes", "notify_secret"])
        waiting = PriorAuthCase.objects.filter(
            payer=payer, status__in=[Status.SUBMITTED, Status.PENDED]
        ).select_related("patient", "practice", "payer", "order", "order__coverage")
        for case in waiting:
            key = f"case-{case.pk}"  # no Submission row: the seed put the case in `submitted` / `pended`
            bundle = build_inquiry_bundle(case, submission_key=key)
            entries = bundle["entry"]
            if case.status == Status.PENDED:
                review, decide_at = "A4", case.status_changed_at  # pended already: waits for staff's update
            else:
                review = rng.choices(["A1", "A2", "A3", "A4"], weights=[60, 10, 15, 15])[0]
                decide_at = now + timedelta(seconds=rng.randrange(30, 300))
            claim = entries[0]["resource"]
            SandboxClaim.objects.get_or_create(
                sandbox_payer=sandbox,
                claim_identifier=key,
                defaults={
                    "review_action": review,
                    "received_at": case.submitted_at or now,
                    "decide_at": decide_at,
                    "claim": {"claim": claim, "patient": entries[1], "insurer": entries[2], "provider": entries[3]},
                    "requester_identifier": requester_identifier(claim, entries),
                    # A pended case's result is old news; a submitted one's is pushed when it is decided.
                    "notified_at": now if case.status == Status.PENDED else None,
                },
            )
            if case.status == Status.SUBMITTED:
                # The poll is the safety net: the sandbox's notification (within a minute of the
                # decision) is what normally wakes the case.
                PriorAuthCase.objects.filter(pk=case.pk).update(
                    next_poll_at=decide_at + timedelta(minutes=DEMO_POLL_MINUTES)
                )
            pairs.add((payer.pk, case.practice_id))
            registered += 1
    for payer_id, practice_id in sorted(pairs):
        # Run by the cluster once `make run` serves the sandbox: the practice subscribes for notifications.
        async_task("integrations.pas.tasks.ensure_subscription", payer_id, practice_id)
    say(
        f"Sandbox payer: PAS payers point at {base_url.rstrip('/')}/sandbox/payer/…; "
        f"{registered} submitted or pended case(s) are with it (submitted ones decide in the next minutes)."
    )
    return registered
