"""Which channel serves a case: the matching rule's channel, else the payer's default.

Every `payers.models.Channel` value has an entry (tests/test_conventions.py
checks): an automated channel is one package plus one line here; until then a
channel is worked by hand (integrations.submission.manual).
"""

from __future__ import annotations

from django.utils.module_loading import import_string

from integrations.base import IntegrationError, PayerChannel
from payers.models import benefit_for, channel_for_benefit

BY_HAND = "by_hand"

CHANNELS: dict[str, str] = {
    "pas": "integrations.pas.channel.PasChannel",
    "x12_278": "integrations.x12_278.channel.X12Channel",
    "fax": "integrations.fax.channel.FaxChannel",
    "portal": "integrations.portal.channel.PortalChannel",
    "epa": "integrations.submission.manual.EpaByHand",
    "none": "integrations.submission.manual.NoChannel",
    # Not a payer's channel: a request staff sent outside the payer's automated one.
    BY_HAND: "integrations.submission.manual.ByHand",
    # The simulated practice's payers (manage.py simulate_practice; docs/outcomes.md).
    "sim": "integrations.simulation.channel.SimChannel",
    "sim_by_hand": "integrations.simulation.channel.SimByHand",
}


def channel_name_for(case) -> str:
    """The channel recorded on the case, else its rule's, else its payer's default;
    for a pharmacy-benefit drug never PAS or X12 278 (then ePA)."""
    if case.channel:
        name = case.channel
    elif case.rule_id:
        name = case.rule.effective_channel
    else:
        name = case.payer.default_channel if case.payer_id else ""
    return channel_for_benefit(name, benefit_for(case.order.code_system, case.rule if case.rule_id else None))


def get_channel(name: str) -> PayerChannel:
    """An instance of the named channel; a permanent IntegrationError for a name with no entry."""
    try:
        path = CHANNELS[name]
    except KeyError:
        raise IntegrationError(f"No channel '{name or 'none'}' is registered.", permanent=True) from None
    return import_string(path)()


def channel_for(case) -> PayerChannel:
    return get_channel(channel_name_for(case))


def is_automated(name: str) -> bool:
    """Whether the named channel reaches the payer itself (otherwise people work it)."""
    return name in CHANNELS and bool(import_string(CHANNELS[name]).automated)
