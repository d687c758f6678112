"""Payer rules as CSV: the file admins exchange with payers' published PA lists.

One row is one rule. The natural key is (payer, plan, code_system, code,
code_end, effective_from); importing a row updates the rule with that key or
creates it, and writes nothing when nothing differs, so re-importing a file
leaves the database (and the audit log) untouched.

The two condition columns, `site_of_service` (CMS place-of-service code) and
`diagnosis_prefixes` (ICD-10 prefixes separated by commas), are part of the
key: "27447 needs PA in outpatient hospital (22)" and "27447 in the office
(11)" are two rules. A file with the earlier 12-column header (no condition
columns) still imports, as rules without conditions.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import date

from django.db import transaction

from payers.codes import normalise_code, normalise_prefixes, prefix_key, validate_code_range, validate_conditions
from payers.models import Category, Channel, CodeSystem, Payer, PayerRule, Plan, RequiresPA

HEADER = [
    "payer",
    "plan",
    "code_system",
    "code",
    "code_end",
    "requires_pa",
    "category",
    "channel",
    "criteria_reference",
    "effective_from",
    "effective_to",
    "notes",
    "site_of_service",
    "diagnosis_prefixes",
]
# Files written before the condition columns existed: read as unconditional rules.
LEGACY_HEADER = HEADER[:-2]
# Fields an import may change on an existing rule (the others are its key).
_VALUE_FIELDS = ["requires_pa", "category", "channel", "criteria_reference", "effective_to", "notes"]

# A spreadsheet runs a cell starting with these as a formula (CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_MAX_LENGTHS = {
    "payer": Payer._meta.get_field("name").max_length,
    "plan": Plan._meta.get_field("name").max_length,
    "code": PayerRule._meta.get_field("code").max_length,
    "code_end": PayerRule._meta.get_field("code_end").max_length,
    "criteria_reference": PayerRule._meta.get_field("criteria_reference").max_length,
}
_CODE_SYSTEMS = {value.lower(): value for value in CodeSystem.values}


class ImportFailed(Exception):
    """The file has errors; nothing was imported."""

    def __init__(self, errors: list[str]):
        self.errors = errors
        super().__init__("\n".join(errors))


@dataclass
class ImportResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    payers_created: list[str] = field(default_factory=list)
    plans_created: list[str] = field(default_factory=list)


@dataclass
class _Row:
    line: int
    payer: str
    plan: str
    code_system: str
    code: str
    code_end: str
    site_of_service: str
    diagnosis_prefixes: str
    values: dict


def neutralise(value: str) -> str:
    """Prefix a cell a spreadsheet would evaluate with a single quote."""
    return f"'{value}" if value.startswith(_FORMULA_START) else value


def unneutralise(value: str) -> str:
    """Undo `neutralise` on import: only a quote followed by a formula character is ours."""
    return value[1:] if value.startswith("'") and value[1:].startswith(_FORMULA_START) else value


def _parse_date(value: str, column: str, errors: list[str], line: int) -> date | None:
    try:
        return date.fromisoformat(value)
    except ValueError:
        errors.append(f"line {line}: {column}: '{value}' is not an ISO date (YYYY-MM-DD).")
        return None


def _parse_row(line: int, cells: dict[str, str], errors: list[str]) -> _Row | None:
    n_errors = len(errors)

    def err(column: str, message: str) -> None:
        errors.append(f"line {line}: {column}: {message}")

    payer = cells["payer"]
    if not payer:
        err("payer", "a payer name is required.")
    for column, limit in _MAX_LENGTHS.items():
        if len(cells[column]) > limit:
            err(column, f"longer than {limit} characters.")
    code_system = _CODE_SYSTEMS.get(cells["code_system"].lower())
    if code_system is None:
        err("code_system", f"unknown code system '{cells['code_system']}' (one of {', '.join(CodeSystem.values)}).")
    else:
        for column, message in validate_code_range(code_system, cells["code"], cells["code_end"]).items():
            err(column, message)
    requires_pa = cells["requires_pa"].lower()
    if requires_pa not in RequiresPA.values:
        err("requires_pa", f"'{cells['requires_pa']}' is not one of yes, no, unknown.")
    category = cells["category"].lower() or Category.OTHER
    if category not in Category.values:
        err("category", f"unknown category '{cells['category']}' (one of {', '.join(Category.values)}).")
    # Empty means the payer's default channel; "none" is the explicit no-channel value.
    channel = cells["channel"].lower()
    if channel and channel not in Channel.values:
        err("channel", f"unknown channel '{cells['channel']}' (one of {', '.join(Channel.values)}, or empty).")
    effective_from = effective_to = None
    if not cells["effective_from"]:
        err("effective_from", "a start date is required.")
    else:
        effective_from = _parse_date(cells["effective_from"], "effective_from", errors, line)
    if cells["effective_to"]:
        effective_to = _parse_date(cells["effective_to"], "effective_to", errors, line)
    if effective_from and effective_to and effective_to < effective_from:
        err("effective_to", "ends before effective_from.")
    for column, message in validate_conditions(cells["site_of_service"], cells["diagnosis_prefixes"]).items():
        err(column, message)
    if len(errors) > n_errors:
        return None
    return _Row(
        line=line,
        payer=payer,
        plan=cells["plan"],
        code_system=code_system,
        code=normalise_code(code_system, cells["code"]),
        code_end=normalise_code(code_system, cells["code_end"]),
        site_of_service=cells["site_of_service"],
        diagnosis_prefixes=normalise_prefixes(cells["diagnosis_prefixes"]),
        values={
            "requires_pa": requires_pa,
            "category": category,
            "channel": channel,
            "criteria_reference": cells["criteria_reference"],
            "effective_from": effective_from,
            "effective_to": effective_to,
            "notes": cells["notes"],
        },
    )


def read_rules(text: str) -> list[_Row]:
    """Parse and validate every row; raise `ImportFailed` listing every error (line 1 is the header)."""
    # PostgreSQL text cannot hold NUL: refused here with its line, not as a database error halfway.
    if "\x00" in text:
        line = text.count("\n", 0, text.index("\x00")) + 1
        raise ImportFailed([f"line {line}: contains a NUL byte; is this a CSV text file?"])
    try:
        return _read_rules(text)
    except csv.Error as exc:  # e.g. a cell over the csv module's field size limit
        raise ImportFailed([f"not readable as CSV: {exc}"]) from exc


def _read_rules(text: str) -> list[_Row]:
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    header = next(reader, None)
    columns = [h.strip() for h in header] if header is not None else None
    if columns not in (HEADER, LEGACY_HEADER):
        raise ImportFailed(
            [f"line 1: header must be exactly: {','.join(HEADER)} (the last two columns may be left out)"]
        )
    errors: list[str] = []
    rows: list[_Row] = []
    seen: dict[tuple, int] = {}
    last_line = reader.line_num
    for cells in reader:
        # A quoted cell may span lines: a row starts on the line after the previous one ended.
        line, last_line = last_line + 1, reader.line_num
        if not any(c.strip() for c in cells):
            continue
        if len(cells) != len(columns):
            errors.append(f"line {line}: expected {len(columns)} cells, found {len(cells)}.")
            continue
        values = dict.fromkeys(HEADER, "") | {h: unneutralise(c.strip()) for h, c in zip(columns, cells, strict=True)}
        row = _parse_row(line, values, errors)
        if row is None:
            continue
        key = _row_key(row)
        if key in seen:
            errors.append(
                f"line {line}: duplicate of line {seen[key]} (same payer, plan, code, range, start and conditions)."
            )
            continue
        seen[key] = line
        rows.append(row)
    if errors:
        raise ImportFailed(errors)
    return rows


def _row_key(row: _Row) -> tuple:
    return (
        row.payer.lower(),
        row.plan.lower(),
        row.code_system,
        row.code,
        row.code_end,
        row.values["effective_from"],
        row.site_of_service,
        prefix_key(row.diagnosis_prefixes),
    )


def import_rules(text: str) -> ImportResult:
    """Validate the whole file, then apply it in one transaction. Raises `ImportFailed`."""
    rows = read_rules(text)
    result = ImportResult()
    with transaction.atomic():
        payers: dict[str, Payer] = {}
        plans: dict[tuple[int, str], Plan] = {}
        for row in rows:
            payer = payers.get(row.payer.lower())
            if payer is None:
                # Names match case-insensitively so "acme health" does not create a second payer.
                payer = Payer.objects.filter(name__iexact=row.payer).first()
                if payer is None:
                    payer = Payer.objects.create(name=row.payer)
                    result.payers_created.append(payer.name)
                payers[row.payer.lower()] = payer
            plan = None
            if row.plan:
                plan = plans.get((payer.pk, row.plan.lower()))
                if plan is None:
                    plan = Plan.objects.filter(payer=payer, name__iexact=row.plan).first()
                    if plan is None:
                        plan = Plan.objects.create(payer=payer, name=row.plan)
                        result.plans_created.append(str(plan))
                    plans[(payer.pk, row.plan.lower())] = plan
            _apply_row(row, payer, plan, result)
    return result


def _apply_row(row: _Row, payer: Payer, plan: Plan | None, result: ImportResult) -> None:
    candidates = PayerRule.objects.filter(
        payer=payer,
        plan=plan,
        code_system=row.code_system,
        code=row.code,
        code_end=row.code_end,
        effective_from=row.values["effective_from"],
        site_of_service=row.site_of_service,
    ).order_by("pk")
    # The prefixes match as a set ("M54, M51.1" in admin is the file's "M51.1,M54").
    wanted = prefix_key(row.diagnosis_prefixes)
    rule = next((r for r in candidates if prefix_key(r.diagnosis_prefixes) == wanted), None)
    if rule is None:
        PayerRule.objects.create(
            payer=payer,
            plan=plan,
            code_system=row.code_system,
            code=row.code,
            code_end=row.code_end,
            site_of_service=row.site_of_service,
            diagnosis_prefixes=row.diagnosis_prefixes,
            **row.values,
        )
        result.created += 1
        return
    changed = [name for name in _VALUE_FIELDS if getattr(rule, name) != row.values[name]]
    if not changed:
        result.unchanged += 1
        return
    for name in changed:
        setattr(rule, name, row.values[name])
    rule.save(update_fields=changed)
    result.updated += 1


def exportable_rules():
    return PayerRule.objects.select_related("payer", "plan").order_by(
        "payer__name", "plan__name", "code_system", "code", "code_end", "effective_from", "site_of_service", "pk"
    )


def export_rules(out) -> int:
    """Write every exportable rule to the text stream `out`; return the number of rows."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADER)
    count = 0
    for rule in exportable_rules():
        cells = [
            rule.payer.name,
            rule.plan.name if rule.plan_id else "",
            rule.code_system,
            rule.code,
            rule.code_end,
            rule.requires_pa,
            rule.category,
            rule.channel,
            rule.criteria_reference,
            rule.effective_from.isoformat(),
            rule.effective_to.isoformat() if rule.effective_to else "",
            rule.notes,
            rule.site_of_service,
            rule.diagnosis_prefixes,
        ]
        writer.writerow([neutralise(c) for c in cells])
        count += 1
    return count
