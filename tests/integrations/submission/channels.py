"""A test-only automated payer channel: the whole of what a new channel has to write.

It is registered by one line in `integrations.registry.CHANNELS` (the tests do
it with monkeypatch) and answers what a test scripted for each case.
"""

from __future__ import annotations

from integrations.base import ChannelBase, DecisionStatus, PayerDecision, SubmissionReceipt


class ScriptedChannel(ChannelBase):
    name = "scripted"
    automated = True
    can_poll = True
    can_update = True
    can_cancel = True

    # case pk -> {"receipt": PayerDecision | None, "status": PayerDecision | None}; reset by the fixture.
    script: dict = {}
    calls: list = []
    awaiting: list = []

    def submit(self, case, *, submission_key: str, replaces_key: str = "", message: str = "") -> SubmissionReceipt:
        self.calls.append(("submit", case.pk, submission_key, replaces_key))
        decision = self.script.get(case.pk, {}).get("receipt")
        return SubmissionReceipt(tracking_id=f"SCR-{submission_key}", decision=decision)

    def check_status(self, case, *, submission_key: str) -> PayerDecision | None:
        self.calls.append(("check", case.pk, submission_key, ""))
        return self.script.get(case.pk, {}).get("status") or PayerDecision(status=DecisionStatus.STILL_PENDING)

    def cancel(self, case, *, submission_key: str, cancel_key: str = "", reason: str = "") -> PayerDecision:
        self.calls.append(("cancel", case.pk, submission_key, cancel_key))
        return PayerDecision(status=DecisionStatus.CANCELLED, payer_tracking_id=f"SCR-{cancel_key}")

    def on_awaiting(self, case) -> None:
        self.awaiting.append(case.pk)
