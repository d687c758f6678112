"""The fax channel: the packet goes out through the fax service; the payer answers by fax.

Sending is automated (integrations.fax.services.fax_send, from the engine's
send task). The answer comes back as a fax a person reads, so checking on a
request is what it is for any channel worked by hand: a follow-up task at the
payer's follow-up time, and cancelling is a call to the payer.
"""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from integrations.base import DecisionStatus, PayerDecision
from integrations.fax.services import fax_send
from integrations.submission.manual import ManualChannel
from integrations.submission.models import Submission


class FaxChannel(ManualChannel):
    name = "fax"
    automated = True
    can_poll = True
    # Additional information for a pended request is faxed by hand for now (the packet has no
    # "additional information" cover yet): the engine then records it as sent by hand.
    can_update = False
    can_cancel = False

    def how_to_send(self, payer) -> str:
        return f"Fax it to {payer.fax}" if payer and payer.fax else "Fax it (the payer's PA fax line is not on file)"

    def submit(self, case, *, submission_key: str, replaces_key: str = "", message: str = "") -> None:
        """Hand the packet to the fax service. None: the receipt is the service's delivery report."""
        fax_send(case=case, submission_key=submission_key)
        return None

    def check_status(self, case, *, submission_key: str) -> PayerDecision | None:
        # Before delivery (the engine asks on a retry of the send) the payer does not have it: send it.
        sent = Submission.objects.filter(idempotency_key=submission_key).first()
        if sent is not None and sent.state != Submission.State.ACCEPTED:
            return None
        # Sending is automated, so the engine checks on the payer's poll cadence (sooner near the
        # deadline); the person's follow-up still waits for the payer's follow-up time.
        if timezone.now() - case.status_changed_at < timedelta(hours=case.payer.follow_up_hours):
            return PayerDecision(status=DecisionStatus.STILL_PENDING, shape="manual")
        return super().check_status(case, submission_key=submission_key)
