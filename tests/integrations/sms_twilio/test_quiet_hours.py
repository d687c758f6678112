import datetime as dt

import time_machine

from cases.models import Status
from cases.transitions import transition
from integrations.sms_twilio import services
from integrations.sms_twilio.models import DeliveryState, OutboundMessage, PracticeSmsSettings
from tests.integrations.sms_twilio.conftest import sent_lines

NY = dt.timezone(dt.timedelta(hours=-4))  # New York in March after DST starts (EDT)


def test_decision_at_night_waits_for_the_morning(sms_env, textable_case, console):
    # given a decision at 22:30 New York time
    with time_machine.travel(dt.datetime(2026, 3, 10, 22, 30, tzinfo=NY), tick=False) as clock:
        transition(textable_case, Status.APPROVED)
        message = OutboundMessage.objects.get()
        # then the text is held until 08:00 the next morning, local time
        assert message.not_before == dt.datetime(2026, 3, 11, 8, 0, tzinfo=NY)
        # and sending now defers it rather than dropping it
        assert services.message_send(message_id=message.pk, notifier=console) == "not_due"
        assert services.send_due_messages() == []
        # when the morning comes the poller sends it
        clock.move_to(dt.datetime(2026, 3, 11, 8, 1, tzinfo=NY))
        assert services.send_due_messages() == [message.pk]
        assert services.message_send(message_id=message.pk, notifier=console) == "sent"
    assert len(sent_lines(sms_env)) == 1


def test_row_due_before_window_is_deferred_at_send_time(sms_env, textable_case, console):
    # given a text queued in the afternoon, but whose retry falls after the practice's 18:00 close
    PracticeSmsSettings.objects.create(
        practice=textable_case.practice, send_window_start=dt.time(9, 0), send_window_end=dt.time(18, 0)
    )
    with time_machine.travel(dt.datetime(2026, 3, 10, 17, 0, tzinfo=NY), tick=False) as clock:
        transition(textable_case, Status.APPROVED)
        message = OutboundMessage.objects.get()
        clock.move_to(dt.datetime(2026, 3, 10, 18, 30, tzinfo=NY))
        # when the task runs after closing
        outcome = services.message_send(message_id=message.pk, notifier=console)
    # then it is put back, held until 09:00 next day, and nothing was sent
    message.refresh_from_db()
    assert outcome == "deferred" and message.delivery_state == DeliveryState.QUEUED
    assert message.not_before == dt.datetime(2026, 3, 11, 9, 0, tzinfo=NY)
    assert sent_lines(sms_env) == []


def test_early_morning_waits_until_window_opens_same_day(sms_env, textable_case):
    with time_machine.travel(dt.datetime(2026, 3, 10, 6, 15, tzinfo=NY), tick=False):
        transition(textable_case, Status.DENIED)
    assert OutboundMessage.objects.get().not_before == dt.datetime(2026, 3, 10, 8, 0, tzinfo=NY)
