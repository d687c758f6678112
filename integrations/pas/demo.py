"""Demo wiring (embedded setup only): the demo's PAS payers are played by the app's sandbox payer.

Called by `cases.demo.demo_seed`. Each PAS payer gets a `SandboxPayer` and its
PAS base URL points at `/sandbox/payer/<slug>/fhir` on this app; its polls run
every minute. Cases the seed placed in `submitted` are registered with the
sandbox as received, with decisions due over the next few minutes, so a fresh
`make run` shows them move to approved / partially approved / denied / pended.
Cases the seed placed in `pended` are registered as already pended, so staff
can answer one (upload a document, "Send additional information") and watch
the sandbox decide the update by itself.
"""

from __future__ import annotations

import random
import secrets
from datetime import timedelta

from django.conf import settings
from django.utils import timezone
from django.utils.text import slugify

from cases.models import PriorAuthCase, Status
from integrations.pas.bundle import build_inquiry_bundle
from integrations.pas.models import PayerLink, SandboxClaim, SandboxPayer
from payers.models import Channel, Payer


def demo_pas_sandbox(*, base_url: str, out=None) -> int:
    """Point PAS payers at the sandbox payer; returns how many submitted or pended cases it has."""
    if not settings.SANDBOX_ENABLED:
        return 0
    say = out or (lambda line: None)
    rng = random.Random(57)
    now = timezone.now()
    registered = 0
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
        PayerLink.objects.update_or_create(
            payer=payer, defaults={"poll_minutes": 1, "notify_secret": secrets.token_urlsafe(24)}
        )
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
            SandboxClaim.objects.get_or_create(
                sandbox_payer=sandbox,
                claim_identifier=key,
                defaults={
                    "review_action": review,
                    "received_at": case.submitted_at or now,
                    "decide_at": decide_at,
                    "claim": {"claim": entries[0]["resource"], "patient": entries[1], "insurer": entries[2]},
                },
            )
            if case.status == Status.SUBMITTED:
                PriorAuthCase.objects.filter(pk=case.pk).update(next_poll_at=decide_at + timedelta(seconds=5))
            registered += 1
    say(
        f"Sandbox payer: PAS payers point at {base_url.rstrip('/')}/sandbox/payer/…; "
        f"{registered} submitted or pended case(s) are with it (submitted ones decide in the next minutes)."
    )
    return registered
