"""django-q2 entry points of the PAS channel (subscriptions, the sandbox payer). Ids only in."""

from __future__ import annotations

from django_q.tasks import async_task


def ensure_subscription(payer_id: int, practice_id: int, force: bool = False) -> str:
    from integrations.pas.subscriptions import subscription_ensure

    return subscription_ensure(payer_id=payer_id, practice_id=practice_id, force=force).state


def ensure_subscriptions() -> int:
    """Scheduled hourly: retry subscriptions in error, and subscribe practices with PAS cases
    awaiting a payer that have none yet."""
    from integrations.pas.subscriptions import subscriptions_to_ensure

    pairs = subscriptions_to_ensure()
    for payer_id, practice_id in pairs:
        async_task("integrations.pas.tasks.ensure_subscription", payer_id, practice_id)
    return len(pairs)


def sandbox_push() -> dict:
    """Scheduled every minute (does nothing unless SANDBOX_ENABLED): the sandbox payer's
    handshakes and decision notifications to its subscribers, over HTTP."""
    from integrations.pas.sandbox_notify import sandbox_push_due

    return sandbox_push_due()
