import datetime as dt
import io
import json

import pytest
import time_machine
from django.core.management import CommandError, call_command

from payers.models import Channel, RequiresPA
from tests import factories as f


def _pa_check(*args) -> dict:
    out = io.StringIO()
    call_command("pa_check", *args, "--json", stdout=out)
    return json.loads(out.getvalue())


@pytest.fixture
def acme(db):
    return f.PayerFactory(name="Acme Health", default_channel=Channel.PORTAL)


@pytest.mark.django_db
def test_required_rule_answers_with_rule_channel_and_requirements(acme):
    # given a payer-wide rule for brain MRI with one requirement
    rule = f.PayerRuleFactory(payer=acme, code="70551", channel=Channel.PAS)
    req = f.RequirementFactory(rule=rule, description="Neurology note within 30 days")
    # when checked (payer name in another case)
    result = _pa_check("--payer", "acme health", "--code", "70551", "--date", "2026-03-02")
    # then the decision names the rule, channel and requirement
    assert result["decision"] == "required"
    assert result["rule_id"] == rule.pk
    assert result["channel"] == "pas"
    assert [r["id"] for r in result["requirements"]] == [req.pk]
    assert result["requirements"][0]["description"] == "Neurology note within 30 days"
    assert set(result) == {"decision", "rule_id", "channel", "benefit", "requirements"}
    assert result["benefit"] == "medical"


@pytest.mark.django_db
def test_not_required_rule(acme):
    # given a rule saying office visits need no PA
    rule = f.PayerRuleFactory(payer=acme, code="99213", requires_pa=RequiresPA.NO, category="other")
    # when checked
    result = _pa_check("--payer", "Acme Health", "--code", "99213", "--date", "2026-03-02")
    # then not required, no channel
    assert result == {
        "decision": "not_required",
        "rule_id": rule.pk,
        "channel": None,
        "benefit": "medical",
        "requirements": [],
    }


@pytest.mark.django_db
def test_nothing_matching_is_unknown(acme):
    # given a rule for another code only
    f.PayerRuleFactory(payer=acme, code="70551")
    # when a code no rule covers is checked
    result = _pa_check("--payer", "Acme Health", "--code", "70553", "--date", "2026-03-02")
    # then a human must check
    assert result == {"decision": "unknown", "rule_id": None, "channel": None, "benefit": "medical", "requirements": []}


@pytest.mark.django_db
@time_machine.travel(dt.datetime(2026, 3, 2, 12, tzinfo=dt.UTC), tick=False)
def test_plan_without_rules_falls_back_to_payer_wide_rules(acme):
    # given a payer-wide CT range, a plan with no rules and a plan with its own rule
    wide = f.PayerRuleFactory(payer=acme, code="70450", code_end="70498", channel="")
    bare = f.PlanFactory(payer=acme, name="Bronze")
    gold = f.PlanFactory(payer=acme, name="Gold")
    own = f.PayerRuleFactory(payer=acme, plan=gold, code="70450", requires_pa=RequiresPA.NO)
    # when each plan is checked (date defaults to today)
    on_bare = _pa_check("--payer", "Acme Health", "--plan", "bronze", "--code", "70450")
    on_gold = _pa_check("--payer", "Acme Health", "--plan", "Gold", "--code", "70450")
    # then the plan without rules uses the payer-wide one (payer default channel); the other its own
    assert (on_bare["decision"], on_bare["rule_id"], on_bare["channel"]) == ("required", wide.pk, "portal")
    assert (on_gold["decision"], on_gold["rule_id"]) == ("not_required", own.pk)
    assert bare.rules.count() == 0


@pytest.mark.django_db
def test_site_and_diagnoses_narrow_the_match(acme):
    # given a lumbar MRI rule only for back-pain diagnoses at an outpatient hospital
    f.PayerRuleFactory(payer=acme, code="72148")
    narrow = f.PayerRuleFactory(
        payer=acme, code="72148", site_of_service="22", diagnosis_prefixes="M54", requires_pa=RequiresPA.NO
    )
    # when checked with the site and diagnoses given as repeat and comma list
    result = _pa_check(
        "--payer", "Acme Health", "--code", "72148", "--site", "22", "--dx", "G43.909,M54.16", "--date", "2026-03-02"
    )
    # then the narrower rule decides
    assert result["rule_id"] == narrow.pk and result["decision"] == "not_required"


@pytest.mark.django_db
def test_unknown_payer_exits_non_zero_with_a_clear_message(acme):
    # given only Acme exists
    # when another payer is asked for
    with pytest.raises(CommandError) as exc:
        _pa_check("--payer", "Nowhere Mutual", "--code", "70551")
    # then the message names the payer and the known ones
    assert "Unknown payer 'Nowhere Mutual'" in str(exc.value)
    assert "Acme Health" in str(exc.value)


@pytest.mark.django_db
def test_unknown_plan_exits_non_zero(acme):
    # given Acme has one plan
    f.PlanFactory(payer=acme, name="Gold")
    # when a plan it does not have is asked for
    with pytest.raises(CommandError) as exc:
        _pa_check("--payer", "Acme Health", "--plan", "Platinum", "--code", "70551")
    # then the error says so and lists its plans
    assert "Unknown plan 'Platinum' for Acme Health" in str(exc.value) and "Gold" in str(exc.value)


@pytest.mark.django_db
def test_conflicting_rules_exit_non_zero_naming_the_rules(acme):
    # given two payer-wide rules for the same code and dates
    a = f.PayerRuleFactory(payer=acme, code="70551")
    b = f.PayerRuleFactory(payer=acme, code="70551", requires_pa=RequiresPA.NO)
    # when checked
    with pytest.raises(CommandError) as exc:
        _pa_check("--payer", "Acme Health", "--code", "70551", "--date", "2026-03-02")
    # then both rule ids are in the message
    assert f"#{a.pk}" in str(exc.value) and f"#{b.pk}" in str(exc.value)


@pytest.mark.django_db
def test_malformed_code_is_refused(acme):
    # given a CPT check with a four-digit code
    # when run
    with pytest.raises(CommandError) as exc:
        _pa_check("--payer", "Acme Health", "--code", "7055")
    # then the code shape is the error
    assert "is not a CPT code" in str(exc.value)


@pytest.mark.django_db
def test_plain_output_names_the_decision(acme):
    # given a required rule
    rule = f.PayerRuleFactory(payer=acme, code="70551", criteria_reference="ACME-RAD-1")
    out = io.StringIO()
    # when checked without --json
    call_command("pa_check", "--payer", "Acme Health", "--code", "70551", "--date", "2026-03-02", stdout=out)
    # then the text names decision, rule and criteria
    text = out.getvalue()
    assert text.startswith("required:") and f"#{rule.pk}" in text and "ACME-RAD-1" in text
