"""django-q2 entry points. Ids only in, nothing PHI out."""

import logging

from django.utils import timezone

from cases.models import CaseEvent, Practice, PriorAuthCase
from cases.services import case_event_add
from integrations.base import IntegrationError

log = logging.getLogger(__name__)


def sync_orders() -> dict:
    """Scheduled: one intake pass per practice with an enabled EHR connection."""
    from integrations.ehr_fhir.intake import SyncBusy, sync_practice
    from integrations.ehr_fhir.models import EhrConnection

    results = {}
    for practice_id in EhrConnection.objects.filter(sync_enabled=True).values_list("practice_id", flat=True):
        try:
            run = sync_practice(practice=Practice.objects.get(pk=practice_id))
            results[practice_id] = run.run_state
        except SyncBusy:
            results[practice_id] = "busy"
    return results


def sync_practice_orders(practice_id: int) -> str:
    from integrations.ehr_fhir.intake import sync_practice

    return sync_practice(practice=Practice.objects.get(pk=practice_id)).run_state


def assemble_packet(case_id: int) -> dict | None:
    from cases.readiness import case_reconcile
    from integrations.ehr_fhir.packet import assemble_packet as assemble
    from integrations.llm import llm_enabled

    case = PriorAuthCase.objects.get(pk=case_id)
    try:
        counts = assemble(case=case)
    except IntegrationError as exc:
        case_event_add(case=case, kind=CaseEvent.Kind.SYSTEM, message=f"Could not read the EHR: {exc}"[:300])
        # Nothing read: the gaps stand, each with its task, so staff can close them by hand.
        case_reconcile(case=case)
        return None
    # The evidence is read: the draft, the gaps' tasks and the case's status follow it (cases/readiness.py).
    case_reconcile(case=case)
    if llm_enabled():
        from django_q.tasks import async_task

        async_task("integrations.llm.tasks.rewrite_summary", case_id)
    return counts


def rewrite_summary(case_id: int) -> bool:
    """Kept so tasks queued under this dotted path before the move still run; now
    `integrations.llm.tasks.rewrite_summary`."""
    from integrations.llm.tasks import rewrite_summary as rewrite

    return rewrite(case_id)


def write_back(write_back_id: int) -> str:
    from integrations.ehr_fhir.writeback import writeback_send

    wb = writeback_send(write_back_id=write_back_id)
    return wb.state if wb else "not due"


def write_back_due() -> int:
    """Scheduled: send every write-back whose retry time has come."""
    from integrations.ehr_fhir.writeback import WRITE_BACKS
    from integrations.outbox import outbox_due_ids

    due = outbox_due_ids(WRITE_BACKS, now=timezone.now(), limit=100)
    for pk in due:
        write_back(pk)
    return len(due)


def check_connection(connection_id: int) -> bool:
    """Admin's "check connection": try every mode and store the report on the connection."""
    from integrations.ehr_fhir.check import connection_check
    from integrations.ehr_fhir.models import EhrConnection

    report = connection_check(connection=EhrConnection.objects.get(pk=connection_id))
    return all(m.get("ok") for m in report["modes"].values())
