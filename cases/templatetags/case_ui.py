"""Small display helpers for the queue and case page (no queries)."""

import datetime as dt

from django import template
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from cases import words
from cases.models import Status
from cases.transitions import AWAITING_PAYER

register = template.Library()

NEXT_ACTION = {
    Status.NEW: "Check whether PA is required",
    Status.RETRO_AUTH: "Request retro-authorization",
    Status.GATHERING: "Close documentation gaps",
    Status.NEEDS_CLINICIAN: "Clinician input / attestation",
    Status.SUBMITTED: "Awaiting payer decision",
    Status.PENDED: "Answer the payer's request",
    Status.DENIED: "Appeal or peer-to-peer",
    Status.APPEALED: "Awaiting appeal decision",
    Status.APPROVED: "Release to scheduling",
    Status.PARTIALLY_APPROVED: "Review partial approval",
}


@register.simple_tag
def next_action(case) -> str:
    if case.status == Status.READY:
        # The gate's row-level parts (cases/readiness.py), without a query per queue row.
        if not case.summary_text.strip():
            return "Write the medical-necessity summary"
        if not case.summary_is_attested:
            return "Summary attestation"
        if case.needs_approval:
            return "Manager approval"
        return "Submit to payer"
    return NEXT_ACTION.get(case.status, "—")


@register.simple_tag
def case_clock(case, now):
    """The deadline that matters now, coloured: red overdue / < 24 h, amber < 72 h, green later."""
    label, when = "", None
    if case.status == Status.DENIED and case.appeal_deadline:
        label, when = "Appeal by", _day_end(case.appeal_deadline)
    elif case.decision_due_at and case.status in AWAITING_PAYER:
        label, when = "Decision due", case.decision_due_at
    elif case.status in (Status.APPROVED, Status.PARTIALLY_APPROVED) and case.auth_effective_end:
        label, when = "Auth expires", _day_end(case.auth_effective_end)
    elif case.order.scheduled_date:
        label, when = "Service", _day_end(case.order.scheduled_date)
    if when is None:
        return mark_safe('<span class="hint">—</span>')  # noqa: S308 - constant
    left = when - now
    if left <= dt.timedelta(hours=24):
        tone = "red"
    elif left <= dt.timedelta(hours=72):
        tone = "amber"
    else:
        tone = "green"
    if getattr(case, "queue_at_risk", False) and tone == "green":
        tone = "amber"
    # Built in Python rather than an included template: it runs once per queue row.
    local = timezone.localtime(when)
    shown = local.strftime("%b %-d %H:%M") if label == "Decision due" else local.strftime("%b %-d")
    return format_html(
        '<span class="clock clock-{}" title="{} {}"><span class="dot" aria-hidden="true"></span>{}{} {}</span>',
        tone,
        label,
        local.strftime("%b %-d, %Y %H:%M %Z"),
        mark_safe("<strong>Overdue</strong> · ") if left.total_seconds() < 0 else "",  # noqa: S308 - constant
        label,
        shown,
    )


def _day_end(day: dt.date):
    return timezone.make_aware(dt.datetime.combine(day, dt.time(23, 59)))


@register.filter
def days_open(case, now) -> int:
    return max(0, (now - case.created_at).days)


@register.filter
def oob(flag) -> str:

    return mark_safe(' hx-swap-oob="true"') if flag else ""  # noqa: S308 - a constant attribute


# Human words (cases/words.py): what staff read instead of codes and raw figures.
register.filter("channel_words", words.channel_words)
register.filter("role_words", words.role_words)
register.filter("duration_words", words.duration_words)
register.filter("date_words", words.date_words)
register.filter("days_words", words.days_words)
register.filter("plain_error", words.plain_error)


@register.filter
def plain_words(text) -> tuple[str, str]:
    """(staff wording, technical original or ''): the timeline shows the second on an expandable line."""
    return words.plain_words(text)


@register.filter
def evidence(item) -> dict:
    """A requirement's evidence entry in words: what it is, its value and its date (not `Procedure/demo-452297`)."""
    from cases.facts import evidence_words

    words = evidence_words(item if isinstance(item, dict) else {})
    try:
        words["date"] = dt.date.fromisoformat(str(words["date"])[:10]) if words["date"] else None
    except ValueError:
        pass  # a date the EHR wrote some other way is shown as it came
    return words
