"""django-q2 entry points of the submission engine. Ids only in; they load rows and call a service."""

from __future__ import annotations

from django_q.tasks import async_task


def submit(submission_id: int) -> str:
    from integrations.submission.services import submission_send

    submission = submission_send(submission_id=submission_id)
    return submission.state if submission else "not due"


def send_due_submissions() -> int:
    """Scheduled every minute: retries whose time has come, and sends a dead worker abandoned."""
    from integrations.submission.services import submissions_due

    ids = submissions_due()
    for pk in ids:
        async_task("integrations.submission.tasks.submit", pk)
    return len(ids)


def poll_due_cases() -> int:
    """Scheduled every minute: claim due cases, one check task per case."""
    from integrations.submission.polling import poll_claim_due

    ids = poll_claim_due()
    for pk in ids:
        async_task("integrations.submission.tasks.poll_case", pk)
    return len(ids)


def poll_case(case_id: int) -> str:
    from integrations.submission.polling import case_poll

    return case_poll(case_id=case_id)


def escalate() -> dict:
    """Scheduled every 15 minutes: stalls and decision deadlines."""
    from integrations.submission.escalation import escalate_deadlines, escalate_stalls

    return {"stalls": escalate_stalls(), "deadlines": escalate_deadlines()}
