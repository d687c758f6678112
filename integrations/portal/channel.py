"""The portal channel: a guided task for a person, who enters the request on the payer's website.

Payer portals have no API we may use, so nothing here calls outside. The
coordinator's task points at the guide (integrations.portal.views.guide): the
payer's portal link and instructions, every field a portal form asks for,
prefilled with a copy button each, and the form to record the payer's
reference. Follow-ups on the payer's cadence and escalation are the engine's,
as for every channel worked by hand.
"""

from __future__ import annotations

from django.urls import reverse

from integrations.submission.manual import ManualChannel


class PortalChannel(ManualChannel):
    name = "portal"

    def how_to_send(self, payer) -> str:
        where = f" ({payer.portal_url})" if payer and payer.portal_url else ""
        return (
            f"Enter it on {payer or 'the payer'}'s provider portal{where}: "
            "the case page's Portal guide has every field prefilled"
        )

    def submit(self, case, *, submission_key: str, replaces_key: str = "", message: str = "") -> None:
        super().submit(case, submission_key=submission_key, replaces_key=replaces_key, message=message)
        # The task names the guide's address, for the person reading it on the task list.
        task = case.tasks.filter(dedupe_key=f"submit-{submission_key}").first()
        if task is not None:
            task.detail += f"\nPortal guide: {reverse('portal:guide', args=[case.pk])}"
            task.save(update_fields=["detail"])
        return None
