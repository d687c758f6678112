"""Code systems and the shape of their codes: keys, ranges, rule conditions.

What a CPT, HCPCS, NDC or RxNorm code looks like, how codes order in a range
and what a rule's site of service and diagnosis prefixes may hold. Shared by
`PayerRule.clean`, the CSV import and the match in `payers.rules`. It imports
no model: `payers.models` imports it (for `CodeSystem` and `PayerRule.clean`),
and `payers.rules` imports both, so the dependency runs one way.
"""

from __future__ import annotations

import functools
import re

from django.db import models


class CodeSystem(models.TextChoices):
    CPT = "CPT", "CPT"
    HCPCS = "HCPCS", "HCPCS Level II"
    NDC = "NDC", "NDC"
    RXNORM = "RxNorm", "RxNorm"


class CodeError(ValueError):
    """A code that does not have the shape of its code system."""


_CPT = re.compile(r"^(\d{4})([0-9FTU])$")
_HCPCS = re.compile(r"^([A-V])(\d{4})$")


def normalise_code(system: str, code: str) -> str:
    code = (code or "").strip().upper()
    if system == CodeSystem.NDC:
        code = code.replace("-", "")
    return code


def code_key(system: str, code: str) -> tuple:
    """An orderable key for a code; keys with different first items never compare in range."""
    code = normalise_code(system, code)
    if not code:
        raise CodeError("A code is required.")
    if system == CodeSystem.CPT:
        m = _CPT.match(code)
        if not m:
            raise CodeError(f"'{code}' is not a CPT code (five digits, or four digits and F/T/U).")
        head, last = m.groups()
        if last.isdigit():
            return ("cpt", int(code))
        return (f"cpt-{last}", int(head))
    if system == CodeSystem.HCPCS:
        m = _HCPCS.match(code)
        if not m:
            raise CodeError(f"'{code}' is not a HCPCS Level II code (a letter and four digits).")
        return (f"hcpcs-{m.group(1)}", int(m.group(2)))
    if system == CodeSystem.NDC:
        if not code.isdigit() or len(code) not in (10, 11):
            raise CodeError(f"'{code}' is not an NDC (10 or 11 digits).")
        return ("ndc", code)
    if system == CodeSystem.RXNORM:
        if not code.isdigit():
            raise CodeError(f"'{code}' is not an RxNorm concept id (digits).")
        return ("rxnorm", code)
    raise CodeError(f"Unknown code system '{system}'.")


def validate_code_range(system: str, code: str, code_end: str = "") -> dict[str, str]:
    """Field errors for a rule's code or range ({} when valid); shared by `PayerRule.clean` and the CSV import."""
    try:
        lo = code_key(system, code)
    except CodeError as exc:
        return {"code": str(exc)}
    if not (code_end or "").strip():
        return {}
    if system in (CodeSystem.NDC, CodeSystem.RXNORM):
        return {"code_end": f"{system} codes match exactly; a range is not allowed."}
    try:
        hi = code_key(system, code_end)
    except CodeError as exc:
        return {"code_end": str(exc)}
    if lo[0] != hi[0]:
        return {"code_end": "Both ends of a range must be the same kind of code."}
    if hi < lo:
        return {"code_end": "The range ends before it starts."}
    return {}


# CMS place-of-service codes are two digits (01–99); an ICD-10 prefix is a
# letter, a digit, then optionally more of the code (with or without its dot).
_POS = re.compile(r"^(0[1-9]|[1-9][0-9])$")
_ICD10_PREFIX = re.compile(r"^[A-Z][0-9]([0-9A-Z](\.?[0-9A-Z]{0,4})?)?$")


def normalise_prefixes(value: str) -> str:
    """'m54, m51.1 ' -> 'M54,M51.1' (upper case, no spaces, order kept)."""
    return ",".join(p.strip().upper() for p in (value or "").split(",") if p.strip())


def prefix_key(value: str) -> tuple[str, ...]:
    """The set of prefixes as a comparable key: order and dots do not change what a rule matches."""
    return tuple(sorted({p.replace(".", "") for p in normalise_prefixes(value).split(",") if p}))


def validate_conditions(site_of_service: str, diagnosis_prefixes: str) -> dict[str, str]:
    """Field errors for a rule's optional conditions ({} when valid); shared by `PayerRule.clean` and the CSV."""
    errors = {}
    site = (site_of_service or "").strip()
    if site and not _POS.match(site):
        errors["site_of_service"] = f"'{site}' is not a CMS place-of-service code (two digits, e.g. 11 or 22)."
    wrong = [p for p in normalise_prefixes(diagnosis_prefixes).split(",") if p and not _ICD10_PREFIX.match(p)]
    if wrong:
        errors["diagnosis_prefixes"] = (
            f"not an ICD-10 code or prefix: {', '.join(wrong)} (e.g. M54 or M51.1, separated by commas)."
        )
    return errors


# The CMS place-of-service codes a practice's orders use, in words (the full list has ~60; unknown codes show bare).
PLACE_OF_SERVICE = {
    "02": "Telehealth (not in the patient's home)",
    "10": "Telehealth in the patient's home",
    "11": "Office",
    "12": "Home",
    "19": "Off-campus outpatient hospital",
    "20": "Urgent care facility",
    "21": "Inpatient hospital",
    "22": "On-campus outpatient hospital",
    "23": "Emergency room – hospital",
    "24": "Ambulatory surgical center",
    "31": "Skilled nursing facility",
    "32": "Nursing facility",
    "49": "Independent clinic",
    "81": "Independent laboratory",
}


@functools.lru_cache(maxsize=2048)
def icd10_description(code: str) -> str:
    """The ICD-10-CM description of a code ('M54.16' -> 'Radiculopathy, lumbar region'); '' when unknown.

    simple-icd-10-cm holds the release offline; it is imported on first use (about a second), not at start-up.
    """
    import simple_icd_10_cm as icd

    code = (code or "").strip().upper()
    try:
        return icd.get_description(code) if icd.is_valid_item(code) else ""
    except ValueError:
        return ""
