from django import template

from integrations.registry import is_automated

register = template.Library()


@register.filter
def worked_by_hand(channel_name: str) -> bool:
    """Whether a channel is worked by people (its "status check" is a follow-up task)."""
    return not is_automated(channel_name or "")
