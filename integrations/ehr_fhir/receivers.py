"""Signal receivers: the write-back outbox row and the packet assembly job."""

from django.db import transaction
from django.db.models.signals import post_save
from django.dispatch import receiver

from cases.models import Task
from cases.transitions import case_status_changing, case_transitioned


@receiver(case_status_changing, dispatch_uid="ehr_fhir_writeback_record")
def record_write_back(sender, *, case, event, from_status, to_status, actor, **kwargs):
    # Inside the moving transaction: the row exists iff the move commits.
    from integrations.ehr_fhir.writeback import CHART_STATUSES, writeback_record

    if to_status not in CHART_STATUSES:
        return

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


@receiver(post_save, sender=Task, dispatch_uid="ehr_fhir_clinician_alert")
def record_clinician_alert(sender, *, instance, created, update_fields=None, **kwargs):
    # A task waiting for a clinician goes to the EHR too (where the connection
    # allows); its completion closes the EHR's copy.
    from integrations.ehr_fhir.writeback import ALERT_TASKS, alert_record

    if instance.kind not in ALERT_TASKS:
        return
    if not created and instance.done_at is None:
        return
    wb = alert_record(task=instance, done=not created)
    if wb is not None and wb.state == wb.State.PENDING:
        from django_q.tasks import async_task

        transaction.on_commit(lambda: async_task("integrations.ehr_fhir.tasks.write_back", wb.pk))
