"""The simulated payers' channels (manage.py simulate_practice only): `sim` reaches the simulation's
payer book the way an API channel reaches a payer, from the submission engine's tasks — over loopback HTTP
(SIMULATION_PAYER_URL, set for the cluster the simulation starts) when those run on real workers, directly
when they run inline; `sim_by_hand` is the same payer worked by people (a submit task, no status checks),
for the manual baseline."""

from __future__ import annotations

import os

from django.utils import timezone

from cases.models import Role, Task, Urgency
from cases.services import task_create
from cases.simulation import payer as sim_payer
from integrations.base import ChannelBase, IntegrationError, PayerDecision, SubmissionReceipt


def _book():
    if sim_payer.ACTIVE is not None:
        return sim_payer.ACTIVE
    if os.environ.get("SIMULATION_PAYER_URL"):
        return sim_payer.RemoteBook(os.environ["SIMULATION_PAYER_URL"])
    raise IntegrationError("No simulation is running.", permanent=True)


class SimChannel(ChannelBase):
    name = "sim"
    automated = True
    can_poll = True
    can_update = True

    def submit(self, case, *, submission_key: str, replaces_key: str = "", message: str = "") -> SubmissionReceipt:
        book = _book()
        now = timezone.now()
        if book.outage(case.payer.name, now):
            raise IntegrationError("Simulated payer outage: HTTP 503")
        book.receive(
            key=submission_key,
            case_id=case.pk,
            payer_name=case.payer.name,
            now=now,
            update=bool(replaces_key),
            urgent=case.urgency == Urgency.EXPEDITED,
        )
        return SubmissionReceipt(tracking_id=submission_key)

    def check_status(self, case, *, submission_key: str) -> PayerDecision | None:
        # A payer of an earlier run does not know the request: None.
        return _book().answer(key=submission_key, payer_name=case.payer.name, now=timezone.now(), via_api=True)

    def cancel(self, case, *, submission_key: str, cancel_key: str = "", reason: str = "") -> PayerDecision | None:
        return None


class SimByHand(ChannelBase):
    name = "sim_by_hand"
    automated = False
    can_poll = False

    def submit(self, case, *, submission_key: str, replaces_key: str = "", message: str = "") -> None:
        task_create(
            case=case,
            kind=Task.Kind.SUBMIT,
            title="Submit to the payer by hand",
            role=Role.COORDINATOR,
            dedupe_key=f"submit-{submission_key}",
        )
        return None

    def check_status(self, case, *, submission_key: str) -> PayerDecision | None:
        return None

    def cancel(self, case, *, submission_key: str, cancel_key: str = "", reason: str = "") -> PayerDecision | None:
        return None
