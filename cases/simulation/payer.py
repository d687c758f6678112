"""The simulated payers: one in-process book of the requests each has, answered per its profile.

It stands where a payer's API would be: the `sim` channel (integrations/simulation) submits to it and
checks on it from the submission engine's tasks; by hand, the staff model "phones" it. Each request's
outcome and turnaround are drawn once, on receipt, from the run's one `random.Random`, so a seed replays.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from integrations.base import DecisionStatus, IntegrationError, PayerDecision

from . import profiles

DENIAL = ("Medical necessity not established from the documentation received", "MN01")


@dataclass
class Request:
    key: str
    case_id: int
    payer: str
    received_at: datetime
    ready_at: datetime
    outcome: str
    stalled: bool
    update: bool
    called: bool = False  # somebody phoned about it while it stalled


@dataclass
class PayerBook:
    rng: object
    by_name: dict = field(default_factory=dict)
    requests: dict = field(default_factory=dict)
    start: datetime | None = None

    def profile(self, payer_name: str) -> profiles.PayerProfile:
        return self.by_name[payer_name]

    def receive(
        self, *, key: str, case_id: int, payer_name: str, now: datetime, missing: int, update: bool, urgent: bool
    ):
        """A request (or an update answering a pend) reaches the payer: draw its answer and when."""
        if key in self.requests:
            return self.requests[key]  # the same request again (a retry): nothing new drawn
        p = self.profile(payer_name)
        draw = self.rng.random()
        if update:
            outcome = "approved" if draw < (0.85 if missing == 0 else 0.5) else "denied"
        elif missing == 0:
            outcome = (
                "approved"
                if draw < p.approve_complete
                else "pended"
                if draw < p.approve_complete + p.pend_complete
                else "denied"
            )
        else:
            outcome = (
                "approved"
                if draw < p.approve_incomplete
                else "pended"
                if draw < p.approve_incomplete + p.pend_incomplete
                else "denied"
            )
        median = p.median_hours / (3 if urgent else 1) / (1.5 if update else 1)
        hours = median * math.exp(self.rng.gauss(0, 0.5))
        stalled = self.rng.random() < p.stall_rate
        if stalled:
            hours = 24 * 20  # sits on it until somebody calls
        request = Request(key, case_id, payer_name, now, now + timedelta(hours=hours), outcome, stalled, update)
        self.requests[key] = request
        return request

    def outage(self, payer_name: str, now: datetime) -> bool:
        day = (now - self.start).days
        return day in self.profile(payer_name).outage_days and 9 <= now.hour < 13

    def call(self, key: str, now: datetime) -> None:
        """Somebody phoned about the request: a stalled one is decided within a day."""
        request = self.requests.get(key)
        if request and request.stalled and now < request.ready_at:
            request.called = True
            request.ready_at = min(request.ready_at, now + timedelta(hours=profiles.STALL_NUDGE_HOURS))

    def answer(self, *, key: str, payer_name: str, now: datetime, via_api: bool) -> PayerDecision | None:
        if via_api and self.outage(payer_name, now):
            raise IntegrationError("Simulated payer outage: HTTP 503")
        request = self.requests.get(key)
        if request is None:
            return None
        if now < request.ready_at:
            return PayerDecision(status=DecisionStatus.STILL_PENDING, payer_tracking_id=key, shape="sim")
        day = request.ready_at.date()
        if request.outcome == "approved":
            return PayerDecision(
                status=DecisionStatus.APPROVED,
                authorization_number=f"SIM{request.case_id:07d}{'U' if request.update else ''}",
                effective_start=day,
                effective_end=day + timedelta(days=90),
                payer_tracking_id=key,
                decided_at=request.ready_at,
                shape="sim",
            )
        if request.outcome == "pended":
            return PayerDecision(
                status=DecisionStatus.PENDED,
                info_requested=("Additional clinical documentation supporting medical necessity",),
                payer_tracking_id=key,
                decided_at=request.ready_at,
                shape="sim",
            )
        return PayerDecision(
            status=DecisionStatus.DENIED,
            reason_text=DENIAL[0],
            reason_code=DENIAL[1],
            payer_tracking_id=key,
            decided_at=request.ready_at,
            shape="sim",
        )


# The book of the run in progress; the `sim` channels read it (one run at a time per process).
ACTIVE: PayerBook | None = None
# What each case's chart lacks, per case id, for the payer's judgement of a packet (set by the engine).
MISSING: dict[int, int] = {}
