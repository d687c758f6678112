"""Signal receivers: the write-back outbox row and the packet assembly job."""

from django.db import transaction
from django.dispatch import receiver

from cases.transitions import DECISION_STATUSES, case_status_changing, case_transitioned


@receiver(case_status_changing, dispatch_uid="ehr_fhir_writeback_record")
def record_write_back(sender, *, case, event, from_status, to_status, actor, **kwargs):
    # Inside the moving transaction: the row exists iff the decision commits.
    if to_status not in DECISION_STATUSES:
        return
    from integrations.ehr_fhir.writeback import writeback_record

    wb = writeback_record(case=case, event=event, to_status=to_status)
    if wb.state == wb.State.PENDING:
        from django_q.tasks import async_task

        transaction.on_commit(lambda: async_task("integrations.ehr_fhir.tasks.write_back", wb.pk))


@receiver(case_transitioned, dispatch_uid="ehr_fhir_assemble_on_gathering")
def assemble_when_gathering(sender, *, case_id, to_status, **kwargs):
    # After commit: check the EHR for the new checklist in the background.
    if to_status != "gathering":
        return
    from django_q.tasks import async_task

    async_task("integrations.ehr_fhir.tasks.assemble_packet", case_id)
