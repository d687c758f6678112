"""The case reference printed on our fax cover, and finding it again in a payer's answer.

A payer answering a fax quotes the reference it was sent ("Re: PA-000123-4").
The trailing check digit (Luhn) makes a misread digit in a fax's text layer
fail to match instead of matching the wrong patient's case.
"""

from __future__ import annotations

import re

_PATTERN = re.compile(r"\bPA[\s\-]{0,2}(\d{6,9})[\s\-]{0,2}(\d)\b", re.IGNORECASE)


def _check_digit(number: str) -> int:
    total = 0
    for i, ch in enumerate(reversed(number)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return (10 - total % 10) % 10


def case_reference(case_id: int) -> str:
    """`PA-000123-4`: the case id and its check digit."""
    number = f"{case_id:06d}"
    return f"PA-{number}-{_check_digit(number)}"


def case_ids_in(text: str) -> list[int]:
    """Case ids whose reference (with a valid check digit) appears in `text`, in order, once each."""
    found: list[int] = []
    for number, check in _PATTERN.findall(text or ""):
        if _check_digit(number) == int(check) and int(number) not in found:
            found.append(int(number))
    return found
