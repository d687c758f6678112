"""Signal receivers: a case move writes its patient text in the same transaction."""

from django.db import transaction
from django.db.models.signals import post_save
from django.dispatch import receiver

from cases.models import Practice
from cases.transitions import case_status_changing
from integrations.sms_twilio.models import DeliveryState
from integrations.sms_twilio.rendering import templates_seed_for_practice
from integrations.sms_twilio.services import message_enqueue_for_transition


@receiver(case_status_changing, dispatch_uid="sms_twilio.queue_patient_text")
def queue_patient_text(sender, case, event, from_status, to_status, actor=None, **kwargs):
    message = message_enqueue_for_transition(case=case, event=event, to_status=to_status)
    if message is not None and message.delivery_state == DeliveryState.QUEUED and message.not_before is None:
        message_id = message.pk
        # After commit, ids only: a rolled-back move sends nothing.
        transaction.on_commit(lambda: _enqueue_send(message_id))


def _enqueue_send(message_id: int) -> None:
    from django_q.tasks import async_task

    async_task("integrations.sms_twilio.tasks.send_message", message_id)


@receiver(post_save, sender=Practice, dispatch_uid="sms_twilio.seed_templates")
def seed_templates_for_new_practice(sender, instance, created, raw=False, **kwargs):
    if created and not raw:
        templates_seed_for_practice(practice=instance)
