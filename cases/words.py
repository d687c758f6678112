"""Words staff read: durations, dates, roles, channels, and errors told plainly.

Everything a coordinator, manager, clinician or the front desk sees goes
through these, so "pas", "front_desk", "1492.5 h" or "$submit: payer answered
HTTP 503" never reach a page. The technical wording is kept where it is
stored (the timeline keeps it on an expandable line, see
templates/cases/_case_timeline.html); only its display changes.
"""

from __future__ import annotations

import datetime as dt
import re

from cases.models import Role
from payers.models import Channel

# Short names for a sentence ("via payer API"); Channel's own labels are
# admin-facing ("Da Vinci PAS (FHIR API)").
CHANNEL_WORDS = {
    Channel.PAS: "payer API",
    Channel.X12_278: "clearinghouse",
    Channel.FAX: "fax",
    Channel.PORTAL: "payer portal",
    Channel.EPA: "ePA network",
    Channel.NONE: "no channel",
}


def channel_words(value: str | None) -> str:
    """'pas' -> 'payer API'; an unknown value is shown as it is, empty as 'no channel'."""
    if not value:
        return "no channel"
    return CHANNEL_WORDS.get(value, str(value).replace("_", " "))


def role_words(value: str | None) -> str:
    """'front_desk' -> 'Front desk' (the Role label), '' -> ''."""
    if not value:
        return ""
    return Role(value).label if value in Role.values else str(value).replace("_", " ").capitalize()


def duration_words(hours: float | int | None) -> str:
    """Hours as staff say them: 1492.5 -> '62 d 4 h', 5.25 -> '5 h 15 min', 0.4 -> '24 min'; None -> '—'."""
    if hours is None:
        return "—"
    minutes = round(float(hours) * 60)
    if minutes < 60:
        return f"{minutes} min"
    if minutes < 24 * 60:
        h, m = divmod(minutes, 60)
        return f"{h} h {m} min" if m else f"{h} h"
    total_hours = round(minutes / 60)
    d, h = divmod(total_hours, 24)
    return f"{d} d {h} h" if h else f"{d} d"


def days_words(days: float | int | None) -> str:
    """Days as staff say them: 3.2 -> '3 d 5 h'; None -> '—'."""
    return "—" if days is None else duration_words(float(days) * 24)


def date_words(value: dt.date | dt.datetime | None) -> str:
    """A date as US staff read it, unambiguous: 'Mar 5, 2026'. None -> ''."""
    if not value:
        return ""
    if isinstance(value, str):  # a date not yet saved (a decision's ISO string)
        try:
            value = dt.date.fromisoformat(value[:10])
        except ValueError:
            return value
    return f"{value:%b} {value.day}, {value.year}"


# -- errors ---------------------------------------------------------------------------------------
# The integrations word their errors for the log and the engineer (operation names, HTTP codes,
# exception class names). Staff get what it means for them; the original stays on the timeline's
# expandable line.
_OPERATION = re.compile(r"(?<![\w$])\$[A-Za-z]+:\s*")  # "$submit: ", "$inquire: "
_LABEL = re.compile(r"\b(?:token|Subscription):\s*")
_HTTP = re.compile(
    r"(?P<who>(?:the )?(?:payer's token endpoint|payer|EHR token endpoint|EHR|Twilio|Telnyx|[A-Z][\w&.' -]{0,60}?))"
    r"\s+(?:answered|refused the request|refused our credentials|refused the fax)?\s*\(?HTTP (?P<code>\d{3})\)?"
    r"(?P<rest>[^;\n]*)",
)
_UNREACHABLE = re.compile(
    r"(?P<who>(?:the )?[\w' ]{0,40}?)\s*(?:not reachable|unreachable|cannot reach (?P<whom>the [\w' ]+?))"
    r"(?:\s*[:(]\s*\w+(?:Error|Exception|Timeout)\w*\)?)?\.?(?=$|[;:\n])",
)
_CLASSNAME = re.compile(r"\s*\(\w+(?:Error|Exception|Timeout)\w*\)")
# "Submission requested (PAS)", "(epa, by hand)": the engine names the channel by its code.
_CHANNEL_CODE = re.compile(r"\((pas|x12_278|epa)(?=[,) ])", re.IGNORECASE)


def _who(raw: str) -> str:
    raw = raw.strip()
    low = raw.lower()
    if "token" in low:
        return "the payer's sign-in service" if "payer" in low else "the EHR's sign-in service"
    if low in ("payer", "the payer"):
        return "the payer's system"
    if low in ("ehr", "the ehr"):
        return "the EHR"
    return raw


def _http_words(match: re.Match) -> str:
    who, code = _who(match["who"]), int(match["code"])
    if code in (401, 403):
        return f"{who} refused our sign-in: an admin must check the connection"
    if code == 429 or code >= 500:
        return f"{who} was not available"
    if code >= 400:
        return f"{who} refused the request"
    return f"{who} sent an answer we could not read"


def plain_words(text: str | None) -> tuple[str, str]:
    """(what staff read, the technical original or '' when nothing needed rewording)."""
    text = text or ""
    plain = _OPERATION.sub("", text)
    plain = _LABEL.sub("", plain)
    plain = _HTTP.sub(_http_words, plain)

    def unreachable(m: re.Match) -> str:
        who = _who(m["whom"] or m["who"] or "the payer")
        return f"{who or 'the other system'} could not be reached"

    plain = _UNREACHABLE.sub(unreachable, plain)
    plain = _CLASSNAME.sub("", plain)
    plain = _CHANNEL_CODE.sub(lambda m: "(" + channel_words(m[1].lower()), plain)
    plain = plain.replace("OperationOutcome", "error report").strip()
    if plain != text and plain[:1].islower():
        plain = plain[0].upper() + plain[1:]
    return (plain, text) if plain != text else (text, "")


def plain_error(text: str | None) -> str:
    """Only the staff wording of `plain_words`."""
    return plain_words(text)[0]
