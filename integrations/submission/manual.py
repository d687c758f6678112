"""Channels worked by people: fax, portal, X12 278 and ePA until each is automated, and payers with none.

A manual channel calls nothing outside. Its `submit` gives the coordinator the
task of sending the packet the payer's way; its status "check" is a follow-up
task when no answer has been recorded by the payer's follow-up time; its
`cancel` is the task of calling the payer. The engine drives it exactly like
an automated channel, so the case waits, is followed up and is escalated the
same way, and the answer a person records goes through `cases.decisions`.
"""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from cases.models import Role, Status, Task
from cases.services import task_create
from integrations.base import ChannelBase, DecisionStatus, PayerDecision

FOLLOW_UP_PREFIX = "follow-up-"


class ManualChannel(ChannelBase):
    """Served by a coordinator. Subclasses name the channel and say how the payer takes a request."""

    automated = False
    can_poll = True  # a "check" is a person's follow-up task
    can_update = True  # a person sends the additional information
    can_cancel = True  # a person calls the payer

    def how_to_send(self, payer) -> str:
        return "Send it to the payer"

    def submit(self, case, *, submission_key: str, replaces_key: str = "", message: str = "") -> None:
        payer = case.payer
        name = self.name or "channel not set"
        if replaces_key:
            added = case.documents.filter(created_at__gt=case.status_changed_at).count()
            task_create(
                case=case,
                kind=Task.Kind.SUBMIT,
                title=f"Send the additional information to {payer or 'the payer'} ({name})",
                detail=(f"What to tell the payer: {message}\n" if message else "")
                + f"{added} document(s) added since the payer's request. {self.how_to_send(payer)} "
                f"(it updates request {replaces_key}), then record the payer's answer on the case page "
                "(outcome 'submitted' once the payer has them).",
                assignee=case.assignee,
                role="" if case.assignee_id else Role.COORDINATOR,
                due_at=timezone.now() + timedelta(days=1),
                dedupe_key=f"submit-{submission_key}",
            )
            return None
        task_create(
            case=case,
            kind=Task.Kind.SUBMIT,
            title=f"Submit to {payer or 'the payer'} ({name})",
            detail="The submission packet (fax cover, request, medical necessity and the documents) is on the "
            f"case page: Download submission packet (PDF). {self.how_to_send(payer)}, then record the payer's "
            f"answer there (outcome 'submitted' keeps the packet as sent). Our reference: {submission_key}.",
            assignee=case.assignee,
            role="" if case.assignee_id else Role.COORDINATOR,
            due_at=timezone.now() + timedelta(days=1),
            dedupe_key=f"submit-{submission_key}",
        )
        return None

    def check_status(self, case, *, submission_key: str) -> PayerDecision:
        """No answer recorded by the payer's follow-up time: a person checks (one open task at a time)."""
        still = PayerDecision(status=DecisionStatus.STILL_PENDING, shape="manual")
        if case.status == Status.PENDED:
            return still  # the payer waits for us: the information-request task has its own due date
        open_follow_up = case.tasks.filter(
            kind=Task.Kind.RECORD_OUTCOME, done_at__isnull=True, dedupe_key__startswith=FOLLOW_UP_PREFIX
        )
        if open_follow_up.exists():
            return still
        now = timezone.now()
        hours = case.payer.follow_up_hours
        waited = int((now - case.status_changed_at).total_seconds() // 3600)
        slot = int(now.timestamp() // (max(hours, 1) * 3600))
        phone = f" ({case.payer.phone})" if case.payer.phone else ""
        task_create(
            case=case,
            kind=Task.Kind.RECORD_OUTCOME,
            title=f"No answer from {case.payer} yet: check on the request",
            detail=f"Sent by {self.name or 'hand'} {waited} h ago with no answer recorded (follow up every "
            f"{hours} h). Call the payer{phone} or check its portal for request "
            f"{case.payer_tracking_id or submission_key}, then record what it says on the case page.",
            assignee=case.assignee,
            role="" if case.assignee_id else Role.COORDINATOR,
            due_at=now + timedelta(days=1),
            dedupe_key=f"{FOLLOW_UP_PREFIX}{submission_key}-{slot}",
        )
        return still

    def cancel(self, case, *, submission_key: str, cancel_key: str = "", reason: str = "") -> None:
        why = f" ({reason})" if reason else ""
        task_create(
            case=case,
            kind=Task.Kind.RECORD_OUTCOME,
            title=f"Call {case.payer or 'the payer'} to cancel the request",
            detail=f"The case was cancelled here{why}, but the payer may still have request {submission_key} "
            f"({self.name or 'channel not set'}). Withdraw it by phone, portal or fax and note the call on the case.",
            assignee=case.assignee,
            role="" if case.assignee_id else Role.COORDINATOR,
            due_at=timezone.now() + timedelta(days=1),
            dedupe_key=f"cancel-{cancel_key or submission_key}",
        )
        return None


class FaxByHand(ManualChannel):
    name = "fax"

    def how_to_send(self, payer) -> str:
        return f"Fax it to {payer.fax}" if payer and payer.fax else "Fax it (the payer's PA fax line is not on file)"


class PortalByHand(ManualChannel):
    name = "portal"

    def how_to_send(self, payer) -> str:
        return f"Enter it on {payer}'s provider portal" if payer else "Enter it on the payer's portal"


class X12ByHand(ManualChannel):
    """X12 278 until the clearinghouse channel is built: staff key the request into the clearinghouse."""

    name = "x12_278"

    def how_to_send(self, payer) -> str:
        ident = f" (payer id {payer.payer_id})" if payer and payer.payer_id else ""
        return f"Send it as a 278 through the clearinghouse{ident}"


class EpaByHand(ManualChannel):
    name = "epa"

    def how_to_send(self, payer) -> str:
        return "Start the ePA request in the network (e.g. CoverMyMeds)"


class NoChannel(ManualChannel):
    """A payer with no channel configured: a person finds out how it takes requests."""

    name = "none"

    def how_to_send(self, payer) -> str:
        phone = f" (phone {payer.phone})" if payer and payer.phone else ""
        return (
            f"No channel is set for this payer: ask it how it takes requests{phone}, send it, "
            "and set the channel in admin"
        )


class ByHand(ManualChannel):
    """A request staff sent outside its payer's automated channel (after a failed send, or information
    faxed for a pended request): followed up by a person like any request sent by hand."""

    name = "by_hand"

    def how_to_send(self, payer) -> str:
        return "Send it to the payer by fax, portal or phone"
