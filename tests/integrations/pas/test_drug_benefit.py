"""Drugs on the right channel: a pharmacy-benefit drug (NDC / RxNorm, filled at a pharmacy) is routed
to the ePA channel and never reaches PAS (CMS-0057-F's API covers items and services, not drugs); a
buy-and-bill drug billed with a HCPCS J-code stays on the payer's medical channel."""

import datetime as dt
import io
import json

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command

from cases.models import Task
from integrations.base import IntegrationError
from integrations.pas.channel import PasChannel
from integrations.registry import channel_name_for
from integrations.submission.models import Exchange, Submission
from integrations.submission.services import submission_request
from payers.models import Benefit, Channel
from payers.rules import check_order
from tests import factories as f

pytestmark = pytest.mark.django_db

ON = dt.date(2026, 3, 2)


def test_a_pharmacy_drug_rule_of_a_pas_payer_goes_to_epa(pas_payer):
    rule = f.PayerRuleFactory(payer=pas_payer, code_system="RxNorm", code="327361", code_end="")
    decision = check_order(payer=pas_payer, plan=None, code_system="RxNorm", code="327361", on=ON)
    assert decision.rule == rule
    assert (decision.benefit, decision.channel) == (Benefit.PHARMACY, Channel.EPA)


def test_a_j_code_infusion_stays_on_the_medical_channel(pas_payer):
    f.PayerRuleFactory(payer=pas_payer, code_system="HCPCS", code="J1745")
    decision = check_order(payer=pas_payer, plan=None, code_system="HCPCS", code="J1745", on=ON)
    assert (decision.benefit, decision.channel) == (Benefit.MEDICAL, Channel.PAS)


def test_the_rule_may_say_which_benefit(pas_payer):
    # A self-administered drug the plan covers under pharmacy although coded with HCPCS.
    f.PayerRuleFactory(payer=pas_payer, code_system="HCPCS", code="J0135", benefit=Benefit.PHARMACY)
    decision = check_order(payer=pas_payer, plan=None, code_system="HCPCS", code="J0135", on=ON)
    assert (decision.benefit, decision.channel) == (Benefit.PHARMACY, Channel.EPA)


@pytest.mark.parametrize("channel", [Channel.PAS, Channel.X12_278])
def test_a_pharmacy_rule_cannot_name_a_medical_only_channel(pas_payer, channel):
    rule = f.PayerRuleFactory.build(payer=pas_payer, code_system="NDC", code="0074-4339-02", channel=channel)
    with pytest.raises(ValidationError, match="use ePA"):
        rule.clean()


def test_pa_check_says_which_benefit(pas_payer):
    f.PayerRuleFactory(payer=pas_payer, code_system="RxNorm", code="1991302")
    out = io.StringIO()
    call_command("pa_check", "--payer", pas_payer.name, "--code-system", "RxNorm", "--code", "1991302", stdout=out)
    assert "Benefit: pharmacy" in out.getvalue() and "Channel: epa" in out.getvalue()
    out = io.StringIO()
    args = ["--payer", pas_payer.name, "--code-system", "RxNorm", "--code", "1991302", "--json"]
    call_command("pa_check", *args, stdout=out)
    assert json.loads(out.getvalue())["benefit"] == "pharmacy"


def _drug_case(pas_case, code_system="RxNorm", code="327361"):
    order = pas_case.order
    order.kind, order.code_system, order.code, order.description = "medication", code_system, code, "Adalimumab pen"
    order.save()
    return pas_case


def test_a_case_recorded_on_pas_for_a_pharmacy_drug_is_routed_to_epa(pas_case):
    case = _drug_case(pas_case)  # case.channel == "pas" (e.g. opened before the rule said pharmacy)
    assert channel_name_for(case) == Channel.EPA
    assert channel_name_for(_drug_case(pas_case, "HCPCS", "J1745")) == Channel.PAS


def test_the_pas_channel_refuses_a_pharmacy_drug(pas_case):
    with pytest.raises(IntegrationError, match="pharmacy-benefit drug") as err:
        PasChannel().submit(_drug_case(pas_case), submission_key="k")
    assert err.value.permanent


def test_a_pharmacy_drug_never_reaches_pas(pas_case, coordinator, q_sync):
    case = _drug_case(pas_case)
    sub = submission_request(case=case, actor=coordinator)
    sub.refresh_from_db()
    assert sub.state == Submission.State.WITH_STAFF  # the ePA channel is worked by hand until automated
    assert not Exchange.objects.filter(case=case).exists()  # no PAS call was made
    assert Task.objects.filter(case=case, kind=Task.Kind.SUBMIT).exists()
