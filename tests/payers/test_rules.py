"""`payers.rules.check_order`: which rule decides, code ranges, effective dates, ties, unknown."""

import datetime as dt

import pytest

from payers.models import CodeSystem, RequiresPA
from payers.rules import RuleConflict, check_order, rule_covers_code
from tests import factories as f

pytestmark = pytest.mark.django_db

DAY = dt.date(2026, 3, 2)


@pytest.fixture
def payer():
    return f.PayerFactory(name="Acme Health")


@pytest.fixture
def gold(payer):
    return f.PlanFactory(payer=payer, name="Gold")


def _check(payer, code, *, plan=None, system=CodeSystem.CPT, on=DAY, **kwargs):
    return check_order(payer=payer, plan=plan, code_system=system, code=code, on=on, **kwargs)


# --- specificity -------------------------------------------------------------------


def test_a_plan_specific_rule_beats_a_payer_wide_rule(payer, gold):
    f.PayerRuleFactory(payer=payer, code="70551", requires_pa=RequiresPA.YES)
    own = f.PayerRuleFactory(payer=payer, plan=gold, code="70551", requires_pa=RequiresPA.NO)
    decision = _check(payer, "70551", plan=gold)
    assert (decision.decision, decision.rule) == ("not_required", own)


def test_plan_scope_outranks_code_exactness(payer, gold):
    # a plan's range is more specific than the payer-wide exact code: plan first
    f.PayerRuleFactory(payer=payer, code="70551", requires_pa=RequiresPA.NO)
    plan_range = f.PayerRuleFactory(payer=payer, plan=gold, code="70540", code_end="70559")
    assert _check(payer, "70551", plan=gold).rule == plan_range


def test_another_plans_rules_do_not_apply(payer, gold):
    silver = f.PlanFactory(payer=payer, name="Silver")
    wide = f.PayerRuleFactory(payer=payer, code="70551")
    f.PayerRuleFactory(payer=payer, plan=gold, code="70551", requires_pa=RequiresPA.NO)
    assert _check(payer, "70551", plan=silver).rule == wide
    # and without a plan only payer-wide rules count
    assert _check(payer, "70551").rule == wide


def test_another_payers_rules_do_not_apply(payer):
    f.PayerRuleFactory(payer=f.PayerFactory(name="Other Mutual"), code="70551")
    assert _check(payer, "70551").decision == "unknown"


def test_an_exact_code_beats_a_range(payer):
    f.PayerRuleFactory(payer=payer, code="70450", code_end="70498", requires_pa=RequiresPA.YES)
    exact = f.PayerRuleFactory(payer=payer, code="70470", requires_pa=RequiresPA.NO)
    assert _check(payer, "70470").rule == exact
    # and the range still decides its other codes
    assert _check(payer, "70471").decision == "required"


def test_a_narrower_range_beats_a_wider_one(payer):
    wide = f.PayerRuleFactory(payer=payer, code="70010", code_end="76499", requires_pa=RequiresPA.YES)
    narrow = f.PayerRuleFactory(payer=payer, code="70540", code_end="70559", requires_pa=RequiresPA.NO)
    assert _check(payer, "70551").rule == narrow
    assert _check(payer, "72148").rule == wide


def test_a_site_or_diagnosis_condition_beats_the_same_rule_without_it(payer):
    plain = f.PayerRuleFactory(payer=payer, code="72148")
    dx = f.PayerRuleFactory(payer=payer, code="72148", diagnosis_prefixes="M54", requires_pa=RequiresPA.NO)
    assert _check(payer, "72148", diagnoses=["M54.16"]).rule == dx
    assert _check(payer, "72148", diagnoses=["G43.909"]).rule == plain


# --- ranges ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "covered"),
    [
        ("70450", True),  # first code
        ("70498", True),  # last code: inclusive
        ("70470", True),
        ("70449", False),
        ("70499", False),
        ("0042T", False),  # Category III: never inside a numeric range
        ("7045F", False),  # Category II
        ("J0450", False),  # another code system's shape
    ],
)
def test_cpt_ranges_are_ordinal_and_inclusive(payer, code, covered):
    rule = f.PayerRuleFactory(payer=payer, code="70450", code_end="70498")
    assert rule_covers_code(rule, code) is covered
    assert _check(payer, code).decision == ("required" if covered else "unknown")


def test_cpt_category_iii_ranges_compare_within_their_own_kind(payer):
    rule = f.PayerRuleFactory(payer=payer, code="0001T", code_end="0100T")
    assert [rule_covers_code(rule, c) for c in ("0001T", "0042T", "0100T", "0101T", "00042", "0042F")] == [
        True,
        True,
        True,
        False,
        False,
        False,
    ]


@pytest.mark.parametrize(
    ("code", "covered"),
    [
        ("J0120", True),
        ("J9999", True),
        ("J1745", True),
        ("j1745", True),  # case does not matter
        (" J1745 ", True),
        ("J0119", False),
        ("K0120", False),  # same digits, another letter
        ("E1745", False),
        ("J12345", False),  # not a HCPCS shape
    ],
)
def test_hcpcs_ranges_compare_letter_then_number(payer, code, covered):
    rule = f.PayerRuleFactory(payer=payer, code_system=CodeSystem.HCPCS, code="J0120", code_end="J9999")
    assert rule_covers_code(rule, code) is covered
    assert _check(payer, code, system=CodeSystem.HCPCS).decision == ("required" if covered else "unknown")


def test_a_rule_of_another_code_system_does_not_match(payer):
    # "E0601" is a HCPCS code (CPAP); a CPT rule with digits cannot match it, nor the reverse
    f.PayerRuleFactory(payer=payer, code_system=CodeSystem.HCPCS, code="E0601")
    assert _check(payer, "E0601", system=CodeSystem.CPT).decision == "unknown"
    assert _check(payer, "E0601", system=CodeSystem.HCPCS).decision == "required"


def test_ndc_matches_exactly_with_or_without_dashes(payer):
    rule = f.PayerRuleFactory(payer=payer, code_system=CodeSystem.NDC, code="00074433902")
    assert _check(payer, "00074-4339-02", system=CodeSystem.NDC).rule == rule
    assert _check(payer, "00074433903", system=CodeSystem.NDC).decision == "unknown"


# --- effective dates ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("on", "decision"),
    [
        (dt.date(2026, 1, 31), "unknown"),  # the day before it starts
        (dt.date(2026, 2, 1), "required"),  # first day: inclusive
        (dt.date(2026, 6, 30), "required"),  # last day: inclusive
        (dt.date(2026, 7, 1), "unknown"),  # the day after it ends
    ],
)
def test_effective_dates_are_inclusive_at_both_ends(payer, on, decision):
    f.PayerRuleFactory(payer=payer, code="70551", effective_from=dt.date(2026, 2, 1), effective_to=dt.date(2026, 6, 30))
    assert _check(payer, "70551", on=on).decision == decision


def test_an_open_ended_rule_applies_for_ever(payer):
    f.PayerRuleFactory(payer=payer, code="70551", effective_from=dt.date(2026, 2, 1), effective_to=None)
    assert _check(payer, "70551", on=dt.date(2099, 12, 31)).decision == "required"


def test_a_rule_replaced_on_a_date_hands_over_without_a_tie(payer):
    # given the payer dropped PA for the code from July: old rule ends June 30, new starts July 1
    old = f.PayerRuleFactory(payer=payer, code="70551", effective_to=dt.date(2026, 6, 30))
    new = f.PayerRuleFactory(payer=payer, code="70551", requires_pa=RequiresPA.NO, effective_from=dt.date(2026, 7, 1))
    assert _check(payer, "70551", on=dt.date(2026, 6, 30)).rule == old
    assert _check(payer, "70551", on=dt.date(2026, 7, 1)).rule == new


# --- ties and unknown ---------------------------------------------------------------


def test_two_equally_specific_rules_are_a_conflict_naming_both(payer):
    a = f.PayerRuleFactory(payer=payer, code="70551", requires_pa=RequiresPA.YES)
    b = f.PayerRuleFactory(payer=payer, code="70551", requires_pa=RequiresPA.NO, effective_from=dt.date(2025, 1, 1))
    with pytest.raises(RuleConflict) as excinfo:
        _check(payer, "70551")
    assert set(excinfo.value.rules) == {a, b}
    assert f"#{a.pk}" in str(excinfo.value) and f"#{b.pk}" in str(excinfo.value)


def test_two_ranges_of_equal_width_covering_the_code_are_a_conflict(payer):
    f.PayerRuleFactory(payer=payer, code="70540", code_end="70559")
    f.PayerRuleFactory(payer=payer, code="70545", code_end="70564", requires_pa=RequiresPA.NO)
    with pytest.raises(RuleConflict):
        _check(payer, "70551")
    # outside the overlap each range decides alone
    assert _check(payer, "70541").decision == "required"
    assert _check(payer, "70562").decision == "not_required"


def test_a_tie_below_the_winner_is_not_a_conflict(payer, gold):
    # two payer-wide rules tie, but a plan rule outranks both
    f.PayerRuleFactory(payer=payer, code="70551")
    f.PayerRuleFactory(payer=payer, code="70551", requires_pa=RequiresPA.NO)
    own = f.PayerRuleFactory(payer=payer, plan=gold, code="70551")
    assert _check(payer, "70551", plan=gold).rule == own


def test_no_rule_is_unknown_with_no_rule_and_no_channel(payer):
    decision = _check(payer, "99499")
    assert decision.as_dict() == {
        "decision": "unknown",
        "rule_id": None,
        "channel": None,
        "benefit": "medical",
        "requirements": [],
    }
    assert decision.reason


def test_a_rule_that_says_unknown_names_itself(payer):
    rule = f.PayerRuleFactory(payer=payer, code="70551", requires_pa=RequiresPA.UNKNOWN)
    decision = _check(payer, "70551")
    assert (decision.decision, decision.rule) == ("unknown", rule)


def test_a_required_decision_lists_its_requirements_in_order(payer):
    rule = f.PayerRuleFactory(payer=payer, code="70551", channel="")
    second = f.RequirementFactory(rule=rule, description="Imaging report", position=2)
    first = f.RequirementFactory(rule=rule, description="Note within 30 days", position=1)
    decision = _check(payer, "70551")
    assert [r["id"] for r in decision.requirements] == [first.pk, second.pk]
    assert decision.channel == payer.default_channel  # blank channel: the payer's default
