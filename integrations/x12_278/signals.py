"""A new case on a payer reached through a clearinghouse: check eligibility (270/271) in the background."""

from __future__ import annotations

from django.db import transaction

from integrations.x12_278.tasks import enqueue_eligibility


def case_opened(sender, instance, created, **kwargs):
    """After commit (and only then, so opening a case costs no query here): is the payer routed? Then ask."""
    if not created or not instance.payer_id:
        return
    case_id, payer_id = instance.pk, instance.payer_id
    transaction.on_commit(lambda: _ask_if_routed(case_id, payer_id))


def _ask_if_routed(case_id: int, payer_id: int) -> None:
    from integrations.x12_278.models import PayerRoute

    if PayerRoute.objects.filter(payer_id=payer_id, eligibility=True, clearinghouse__active=True).exists():
        enqueue_eligibility(case_id)
