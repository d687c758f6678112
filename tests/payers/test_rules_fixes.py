"""Bugs found in payers/rules.py and PayerRule.clean, each pinned by a test."""

import datetime as dt

import pytest
from django.core.exceptions import ValidationError

from payers.models import PayerRule
from payers.rules import find_conflicts
from tests import factories as f


@pytest.mark.django_db
def test_clean_refuses_a_range_of_drug_codes():
    # given an NDC rule with a range (drug identifiers match exactly; a range never matched)
    rule = PayerRule(
        payer=f.PayerFactory(),
        code_system="NDC",
        code="00002143380",
        code_end="00002143399",
        effective_from=dt.date(2025, 1, 1),
    )
    # when validated
    with pytest.raises(ValidationError) as exc:
        rule.clean()
    # then code_end is refused
    assert "a range is not allowed" in str(exc.value.message_dict["code_end"])


@pytest.mark.django_db
def test_conflict_scan_survives_a_stored_drug_code_range():
    # given an NDC range saved around clean (e.g. an old import) beside an exact NDC rule
    payer = f.PayerFactory()
    f.PayerRuleFactory(payer=payer, code_system="NDC", code="00002143380", code_end="00002143399")
    f.PayerRuleFactory(payer=payer, code_system="NDC", code="00002143380")
    # when the admin scans for conflicts (used to raise TypeError subtracting strings)
    conflicts = find_conflicts(PayerRule.objects.all())
    # then no conflict: the range matches nothing
    assert conflicts == []


@pytest.mark.django_db
def test_conflict_scan_treats_dotted_and_undotted_diagnosis_prefixes_alike():
    # given two rules for one code whose prefixes differ only by the dot (the match ignores dots)
    payer = f.PayerFactory()
    a = f.PayerRuleFactory(payer=payer, code="72148", diagnosis_prefixes="M51.1")
    b = f.PayerRuleFactory(payer=payer, code="72148", diagnosis_prefixes="M511")
    # when scanned
    conflicts = find_conflicts(PayerRule.objects.all())
    # then they conflict
    assert [(x.pk, y.pk) for x, y in conflicts] == [(a.pk, b.pk)]


@pytest.mark.django_db
def test_conflict_scan_finds_overlapping_equal_width_ranges_only():
    # given two overlapping ranges of equal width, and a third of equal width that does not overlap
    payer = f.PayerFactory()
    a = f.PayerRuleFactory(payer=payer, code="70450", code_end="70460")
    b = f.PayerRuleFactory(payer=payer, code="70455", code_end="70465")
    f.PayerRuleFactory(payer=payer, code="70470", code_end="70480")
    # when scanned
    conflicts = find_conflicts(PayerRule.objects.all())
    # then only the overlapping pair is reported
    assert [(x.pk, y.pk) for x, y in conflicts] == [(a.pk, b.pk)]


@pytest.mark.django_db
def test_clean_without_a_start_date_does_not_crash():
    # given a form where effective_from failed validation (None) but effective_to is set
    rule = PayerRule(payer=f.PayerFactory(), code="70551", effective_from=None, effective_to=dt.date(2025, 1, 1))
    # when the model is cleaned (used to raise TypeError comparing a date with None)
    rule.clean()
    # then it passes on to the field error the form already shows
    assert rule.effective_from is None


@pytest.mark.django_db
def test_clean_reports_a_bad_range_end_on_code_end_and_normalises_codes():
    # given a HCPCS rule with a malformed end
    bad = PayerRule(
        payer=f.PayerFactory(), code_system="HCPCS", code="j9035", code_end="9999", effective_from=dt.date(2025, 1, 1)
    )
    # when validated
    with pytest.raises(ValidationError) as exc:
        bad.clean()
    # then the error is on code_end, not code
    assert set(exc.value.message_dict) == {"code_end"}
    # and a valid lower-case code is stored upper-case (one spelling for the CSV key)
    good = PayerRule(payer=bad.payer, code_system="HCPCS", code=" j9035 ", effective_from=dt.date(2025, 1, 1))
    good.clean()
    assert good.code == "J9035"
