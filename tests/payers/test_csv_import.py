import csv
import datetime as dt
import io
from pathlib import Path

import pytest
from auditlog.models import LogEntry
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from payers.csv_io import HEADER
from payers.models import Channel, Payer, PayerRule, Plan
from tests import factories as f

SAMPLE = Path(__file__).resolve().parent.parent / "fixtures" / "payer_rules_sample.csv"
HEADER_LINE = ",".join(HEADER)
LEGACY_HEADER_LINE = ",".join(HEADER[:-2])


def _import(path) -> str:
    out = io.StringIO()
    call_command("import_payer_rules", str(path), stdout=out, stderr=io.StringIO())
    return out.getvalue()


def _export() -> str:
    out = io.StringIO()
    call_command("export_payer_rules", stdout=out, stderr=io.StringIO())
    return out.getvalue()


def _write(tmp_path, *lines) -> Path:
    path = tmp_path / "rules.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.django_db
def test_import_creates_payers_plans_and_rules():
    # given an empty database and the sample file
    # when it is imported
    output = _import(SAMPLE)
    # then payers, the plan and every rule exist with their values
    assert "6 created, 0 updated, 0 unchanged" in output
    assert set(Payer.objects.values_list("name", flat=True)) == {"Acme Health", "Beacon Mutual"}
    gold = Plan.objects.get(name="Medicare Advantage Gold", payer__name="Acme Health")
    plan_rule = PayerRule.objects.get(plan=gold)
    assert (plan_rule.requires_pa, plan_rule.channel) == ("no", Channel.NONE)
    ct = PayerRule.objects.get(code="70450")
    assert (ct.code_end, ct.channel, ct.plan) == ("70498", "", None)  # empty channel = payer default
    j = PayerRule.objects.get(code="J9035")
    assert j.effective_to == dt.date(2026, 12, 31) and j.criteria_reference == "ACME-ONC-17"


@pytest.mark.django_db
def test_reimporting_the_same_file_changes_nothing_and_writes_nothing():
    # given the sample already imported
    _import(SAMPLE)
    log_entries = LogEntry.objects.count()
    # when it is imported again
    with CaptureQueriesContext(connection) as queries:
        output = _import(SAMPLE)
    # then every row is unchanged and no INSERT/UPDATE/DELETE ran (so no audit entries)
    assert "0 created, 0 updated, 6 unchanged" in output
    writes = [q["sql"] for q in queries if q["sql"].lstrip().split()[0].upper() in {"INSERT", "UPDATE", "DELETE"}]
    assert writes == []
    assert LogEntry.objects.count() == log_entries


@pytest.mark.django_db
def test_a_changed_row_updates_only_that_rule(tmp_path):
    # given the sample imported
    _import(SAMPLE)
    text = SAMPLE.read_text().replace("Bevacizumab", "Bevacizumab 10 mg")
    # when the edited file is imported
    output = _import(_write(tmp_path, *text.strip().splitlines()))
    # then one rule is updated, the rest unchanged
    assert "0 created, 1 updated, 5 unchanged" in output
    assert PayerRule.objects.get(code="J9035").notes == "Bevacizumab 10 mg"


@pytest.mark.django_db
def test_row_errors_are_reported_with_line_numbers_and_nothing_is_imported(tmp_path):
    # given a file whose good rows are mixed with bad ones
    path = _write(
        tmp_path,
        LEGACY_HEADER_LINE,  # rows of the earlier 12-column layout
        "Acme,,CPT,70551,,yes,advanced_imaging,portal,,2025-01-01,,good row",
        "Acme,,CPT,7055,,yes,advanced_imaging,portal,,2025-01-01,,bad code",
        "Acme,,LOINC,1234-5,,yes,other,,,2025-01-01,,unknown system",
        "Acme,,CPT,70559,70540,yes,advanced_imaging,,,2025-01-01,,range reversed",
        "Acme,,CPT,70553,,maybe,imaging,carrier_pigeon,,2025-13-01,,bad enums and date",
        "Acme,,CPT,70551,,no,advanced_imaging,portal,,2025-01-01,,duplicate of line 2",
        "Acme,,CPT,70552,,yes,advanced_imaging,,,2025-06-01,2025-01-01,ends before start",
    )
    # when it is imported
    with pytest.raises(CommandError) as exc:
        _import(path)
    # then each error names its line (header = line 1) and nothing was written
    message = str(exc.value)
    assert "nothing was imported" in message
    for expected in (
        "line 3: code: '7055' is not a CPT code",
        "line 4: code_system: unknown code system 'LOINC'",
        "line 5: code_end: The range ends before it starts.",
        "line 6: requires_pa:",
        "line 6: category: unknown category 'imaging'",
        "line 6: channel: unknown channel 'carrier_pigeon'",
        "line 6: effective_from: '2025-13-01' is not an ISO date",
        "line 7: duplicate of line 2",
        "line 8: effective_to: ends before effective_from.",
    ):
        assert expected in message
    assert "line 2" not in message.replace("duplicate of line 2", "")
    assert PayerRule.objects.count() == 0 and Payer.objects.count() == 0


@pytest.mark.django_db
def test_header_mismatch_is_refused(tmp_path):
    # given a file whose header lacks the notes column
    header = HEADER_LINE.removesuffix(",notes,site_of_service,diagnosis_prefixes")
    assert header != HEADER_LINE
    path = _write(tmp_path, header, "Acme,,CPT,70551,,yes,other,,,2025-01-01,")
    # when it is imported
    with pytest.raises(CommandError) as exc:
        _import(path)
    # then the header is the error and nothing is imported
    assert "line 1: header must be exactly" in str(exc.value)
    assert PayerRule.objects.count() == 0


@pytest.mark.django_db
def test_export_then_import_round_trips_unchanged(tmp_path):
    # given rules made in admin, including payer-wide and plan-specific, an NDC and an open end
    payer = f.PayerFactory(name="Summit Health")
    plan = f.PlanFactory(payer=payer, name="Silver")
    f.PayerRuleFactory(payer=payer, code="27447", channel=Channel.PAS, notes='knee, "total"\nsecond line')
    f.PayerRuleFactory(payer=payer, plan=plan, code="27447", requires_pa="no", channel=Channel.NONE)
    f.PayerRuleFactory(
        payer=payer, code_system="NDC", code="00074433902", effective_to=dt.date(2026, 6, 30), category="other"
    )
    # when exported and the export imported again
    path = tmp_path / "export.csv"
    call_command("export_payer_rules", output=str(path), stderr=io.StringIO())
    output = _import(path)
    # then every rule is unchanged and nothing new was created
    assert "0 created, 0 updated, 3 unchanged" in output
    assert PayerRule.objects.count() == 3
    assert path.read_text().splitlines()[0] == HEADER_LINE


@pytest.mark.django_db
def test_export_neutralises_formula_cells_and_import_restores_them(tmp_path):
    # given a rule whose text cells a spreadsheet would run as formulas
    payer = f.PayerFactory(name='=HYPERLINK("http://x")')
    f.PayerRuleFactory(payer=payer, criteria_reference="+1-555", notes="@SUM(A1)")
    f.PayerRuleFactory(payer=payer, code="70553", notes="-2 units\tper day")
    # when exported
    rows = list(csv.reader(io.StringIO(_export())))
    # then every such cell starts with a single quote
    assert rows[1][0] == '\'=HYPERLINK("http://x")'
    assert rows[1][8] == "'+1-555" and rows[1][11] == "'@SUM(A1)"
    assert rows[2][11] == "'-2 units\tper day"
    # and importing the export restores the original values without changes
    path = tmp_path / "export.csv"
    path.write_text(_export(), encoding="utf-8")
    assert "0 created, 0 updated, 2 unchanged" in _import(path)
    assert PayerRule.objects.get(code="70551").notes == "@SUM(A1)"


@pytest.mark.django_db
def test_rules_with_site_or_diagnosis_conditions_round_trip(tmp_path):
    # given a plain rule and two conditional ones for the same code (admin spelling with spaces)
    plain = f.PayerRuleFactory(code="72148")
    f.PayerRuleFactory(payer=plain.payer, code="72148", diagnosis_prefixes="M54, M51.1")
    f.PayerRuleFactory(payer=plain.payer, code="72148", site_of_service="22", requires_pa="no")
    # when exported
    path = tmp_path / "export.csv"
    call_command("export_payer_rules", output=str(path), stderr=io.StringIO())
    rows = list(csv.DictReader(path.open(encoding="utf-8")))
    # then all three are written with their conditions in their own columns
    assert sorted((r["site_of_service"], r["diagnosis_prefixes"]) for r in rows) == [
        ("", ""),
        ("", "M54, M51.1"),
        ("22", ""),
    ]
    # and importing the export changes nothing
    assert "0 created, 0 updated, 3 unchanged" in _import(path)
    assert PayerRule.objects.count() == 3


@pytest.mark.django_db
def test_conditions_are_part_of_the_rule_key(tmp_path):
    # given a file with one code under three conditions, and a prefix list in another order and case
    path = _write(
        tmp_path,
        HEADER_LINE,
        "Acme,,CPT,27447,,yes,surgery,,,2025-01-01,,,,",
        "Acme,,CPT,27447,,no,surgery,,,2025-01-01,,,11,",
        'Acme,,CPT,27447,,yes,surgery,,,2025-01-01,,,22,"m17.11, M16"',
    )
    # when imported twice, the second time with the prefixes reordered and a changed value
    assert "3 created" in _import(path)
    again = _write(
        tmp_path,
        HEADER_LINE,
        'Acme,,CPT,27447,,unknown,surgery,,,2025-01-01,,,22,"M16,M17.11"',
    )
    output = _import(again)
    # then the second import updates the rule with the same conditions instead of adding a fourth
    assert "0 created, 1 updated, 0 unchanged" in output
    assert PayerRule.objects.count() == 3
    updated = PayerRule.objects.get(site_of_service="22")
    assert updated.requires_pa == "unknown"
    assert updated.diagnosis_prefixes == "M17.11,M16"  # stored as first imported, normalised
    assert PayerRule.objects.get(site_of_service="11").requires_pa == "no"


@pytest.mark.django_db
def test_a_file_with_the_earlier_header_imports_as_unconditional_rules(tmp_path):
    # given a file written before the condition columns existed
    path = _write(tmp_path, ",".join(HEADER[:-2]), "Acme,,CPT,70551,,yes,advanced_imaging,,,2025-01-01,,")
    # when imported
    assert "1 created" in _import(path)
    # then the rule has no conditions
    rule = PayerRule.objects.get()
    assert (rule.site_of_service, rule.diagnosis_prefixes) == ("", "")


@pytest.mark.django_db
def test_bad_condition_cells_are_reported_and_nothing_is_imported(tmp_path):
    # given a place of service that is not a CMS code and a diagnosis prefix that is not ICD-10
    path = _write(
        tmp_path,
        HEADER_LINE,
        "Acme,,CPT,70551,,yes,advanced_imaging,,,2025-01-01,,,office,",
        'Acme,,CPT,70553,,yes,advanced_imaging,,,2025-01-01,,,,"M54,back pain"',
    )
    # when imported
    with pytest.raises(CommandError) as exc:
        _import(path)
    # then each cell is named with its line, and nothing is imported
    assert "line 2: site_of_service: 'office' is not a CMS place-of-service code" in str(exc.value)
    assert "line 3: diagnosis_prefixes: not an ICD-10 code or prefix: BACK PAIN" in str(exc.value)
    assert PayerRule.objects.count() == 0
