"""Which channel submits a case: the matching rule's channel, else the payer's default."""

from __future__ import annotations

from django.utils.module_loading import import_string

from integrations.base import IntegrationError, PayerChannel

# Channel name (payers.models.Channel) -> implementation. Channels without an
# entry (fax, portal, x12_278 until built) are worked by people.
CHANNELS: dict[str, str] = {
    "pas": "integrations.pas.channel.PasChannel",
}


def channel_name_for(case) -> str:
    """The channel recorded on the case, else its rule's, else its payer's default."""
    if case.channel:
        return case.channel
    if case.rule_id:
        return case.rule.effective_channel
    return case.payer.default_channel if case.payer_id else ""


def has_channel(name: str) -> bool:
    return name in CHANNELS


def can_cancel(name: str) -> bool:
    """Whether the named channel withdraws a request itself (otherwise a person calls the payer)."""
    return has_channel(name) and bool(getattr(import_string(CHANNELS[name]), "cancels", False))


def get_channel(name: str) -> PayerChannel:
    """An instance of the named channel; a permanent IntegrationError for one that is not automated."""
    try:
        path = CHANNELS[name]
    except KeyError:
        raise IntegrationError(f"No automated channel '{name or 'none'}': submit by hand.", permanent=True) from None
    return import_string(path)()


def channel_for(case) -> PayerChannel:
    return get_channel(channel_name_for(case))
