"""Which case a received fax answers, from its text alone: our reference on it, else the member
id with the patient's name, else the patient's name with the birth date.

Only a single open case counts as a match; two candidates, or none, leave the
fax in the inbox with a note saying why, for a person to file. Nothing is
guessed from a fax without a text layer (see services.inbound_fetch).
"""

from __future__ import annotations

import re
from datetime import date

from cases.models import Coverage, Patient, PriorAuthCase
from cases.reference import case_ids_in
from cases.transitions import OPEN_STATUSES
from integrations.fax.models import InboundFax

_TOKEN = re.compile(r"[A-Z0-9][A-Z0-9\-]{4,38}[A-Z0-9]")
_DATES = (
    re.compile(r"\b(\d{1,2})/(\d{1,2})/(\d{4})\b"),  # 03/07/1961
    re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b"),  # 1961-03-07
)


def _dates(text: str) -> set[date]:
    found = set()
    for m in _DATES[0].finditer(text):
        try:
            found.add(date(int(m.group(3)), int(m.group(1)), int(m.group(2))))
        except ValueError:
            pass
    for m in _DATES[1].finditer(text):
        try:
            found.add(date(int(m.group(1)), int(m.group(2)), int(m.group(3))))
        except ValueError:
            pass
    return found


def _has_word(text_upper: str, word: str) -> bool:
    return bool(word) and re.search(rf"\b{re.escape(word.upper())}\b", text_upper) is not None


def match_case(*, practice, text: str) -> tuple[PriorAuthCase | None, str, str]:
    """(case, how, "") for a confident match; (None, "", why not) otherwise."""
    cases = PriorAuthCase.objects.filter(practice=practice)
    referenced = list(cases.filter(pk__in=case_ids_in(text)))
    if len(referenced) == 1:
        return referenced[0], InboundFax.MatchedBy.REFERENCE, ""
    if len(referenced) > 1:
        return None, "", f"It quotes {len(referenced)} of our references: pick the case it answers."
    upper = text.upper()
    open_cases = cases.filter(status__in=OPEN_STATUSES)

    tokens = {t for t in _TOKEN.findall(upper) if any(ch.isdigit() for ch in t)}
    by_member = Coverage.objects.filter(patient__practice=practice, member_id__in=tokens).select_related("patient")
    patients = {c.patient for c in by_member if _has_word(upper, c.patient.last_name)}
    payers = {c.payer_id for c in by_member}
    if patients:
        found = list(open_cases.filter(patient__in=patients, payer_id__in=payers))
        if len(found) == 1:
            return found[0], InboundFax.MatchedBy.MEMBER, ""
        if found:
            return None, "", f"The member's id is on it, but the patient has {len(found)} open cases: pick one."

    born = _dates(text)
    if born:
        patients = [
            p
            for p in Patient.objects.filter(practice=practice, birth_date__in=born)
            if _has_word(upper, p.last_name) and _has_word(upper, p.first_name)
        ]
        found = list(open_cases.filter(patient__in=patients))
        if len(found) == 1:
            return found[0], InboundFax.MatchedBy.PATIENT, ""
        if found:
            return None, "", f"The patient is named with the birth date, but has {len(found)} open cases: pick one."
    return None, "", "No reference of ours, member id or patient name with birth date found on it."
