"""A new case on a payer reached through a clearinghouse: check eligibility (270/271) in the background."""

from __future__ import annotations

from django.db import transaction

from integrations.x12_278.tasks import enqueue_eligibility


def case_opened(sender, instance, created, **kwargs):
    """A new case on a payer with an X12 route: check eligibility after commit, in the background."""
    if not created or not instance.payer_id:
        return
    from integrations.x12_278.models import PayerRoute

    if PayerRoute.objects.filter(payer_id=instance.payer_id, eligibility=True, clearinghouse__active=True).exists():
        case_id = instance.pk
        transaction.on_commit(lambda: enqueue_eligibility(case_id))
