"""django-q2 entry points. Ids only in; they load rows and call a service."""

from __future__ import annotations

import logging

from django_q.tasks import async_task

log = logging.getLogger(__name__)


def submit(submission_id: int) -> str:
    from integrations.pas.services import submission_send

    submission = submission_send(submission_id=submission_id)
    return submission.state if submission else "not due"


def send_due_submissions() -> int:
    """Scheduled every minute: retries whose time has come, and sends a dead worker abandoned."""
    from integrations.pas.services import submissions_due

    ids = submissions_due()
    for pk in ids:
        async_task("integrations.pas.tasks.submit", pk)
    return len(ids)


def poll_due_cases() -> int:
    """Scheduled every minute: claim due cases, one poll task per case."""
    from integrations.pas.services import poll_claim_due

    ids = poll_claim_due()
    for pk in ids:
        async_task("integrations.pas.tasks.poll_case", pk)
    return len(ids)


def poll_case(case_id: int) -> str:
    from integrations.pas.services import case_poll

    return case_poll(case_id=case_id)


def escalate() -> dict:
    """Scheduled every 15 minutes: stalls and decision deadlines."""
    from integrations.pas.escalation import escalate_deadlines, escalate_stalls

    return {"stalls": escalate_stalls(), "deadlines": escalate_deadlines()}


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
