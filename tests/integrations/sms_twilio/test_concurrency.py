import threading
import time

import pytest
from django.db import connection

from cases.models import Status
from cases.transitions import transition
from integrations.sms_twilio import services
from integrations.sms_twilio.models import OutboundMessage
from integrations.sms_twilio.notifiers import ConsoleNotifier
from tests.integrations.sms_twilio.conftest import sent_lines


class SlowConsole(ConsoleNotifier):
    def send(self, **kwargs):
        time.sleep(0.5)  # the provider takes a while: the other worker runs meanwhile
        return super().send(**kwargs)


@pytest.mark.django_db(transaction=True)
def test_two_workers_racing_on_one_row_send_once(postgres_only, sms_env, frozen, textable_case):
    # given a queued text and two workers picking it up at the same moment
    from integrations.sms_twilio.config import sms_config

    transition(textable_case, Status.APPROVED)
    message = OutboundMessage.objects.get()
    notifier = SlowConsole(sms_config())
    outcomes = []

    def worker():
        try:
            outcomes.append(services.message_send(message_id=message.pk, notifier=notifier))
        finally:
            connection.close()

    # when both run
    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # then one sent and the other stood back (row locked, or claimed and in flight)
    assert sorted(outcomes)[1] == "sent" and sorted(outcomes)[0] in {"busy", "in_flight"}
    assert len(sent_lines(sms_env)) == 1
