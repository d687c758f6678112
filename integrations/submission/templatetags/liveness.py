"""`{% liveness_banner %}`: managers see when background work has stalled (base.html)."""

from django import template

from cases.models import Role
from integrations.submission.liveness import liveness_status

register = template.Library()


@register.inclusion_tag("submission/_liveness_banner.html", takes_context=True)
def liveness_banner(context):
    user = context.get("user")
    # Only managers: they are the ones who can get the cluster restarted; others cannot act on it.
    # One primary-key read per manager page, not cached: a per-process cache would make the
    # banner late and the page's query count depend on what ran before.
    if user is None or not user.is_authenticated or not user.has_role(Role.MANAGER):
        return {"stalled_since": None}
    return {"stalled_since": liveness_status().stalled_since}
