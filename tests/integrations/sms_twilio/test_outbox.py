import datetime as dt

import pytest
from django.db import transaction
from django_q.conf import Conf

from cases.models import CaseEvent, Status, Task
from cases.transitions import transition
from integrations.base import IntegrationError, SentMessage
from integrations.sms_twilio import services
from integrations.sms_twilio.models import DeliveryState, OutboundMessage, TemplateKind
from tests.integrations.sms_twilio.conftest import sent_lines


class FailingNotifier:
    """A notifier whose provider answers with an error."""

    name = "failing"

    def __init__(self, error):
        self.error, self.calls = error, 0

    def send(self, *, to, body, status_callback=None):
        self.calls += 1
        raise self.error

    def find_sent(self, *, to, body, since):
        return None


@pytest.mark.parametrize(
    ("to_status", "kind"),
    [
        (Status.APPROVED, TemplateKind.APPROVED),
        (Status.PARTIALLY_APPROVED, TemplateKind.APPROVED),
        (Status.PENDED, TemplateKind.INFO_NEEDED),
        (Status.DENIED, TemplateKind.DENIED),
    ],
)
def test_decision_writes_one_outbox_row_in_the_moving_transaction(sms_env, frozen, textable_case, to_status, kind):
    # given a submitted case whose patient consented to texts
    # when the payer's decision moves it
    event = transition(textable_case, to_status)
    # then one queued row names the case, the event and the template, and the timeline says so
    message = OutboundMessage.objects.get(case=textable_case)
    assert (message.template_kind, message.delivery_state, message.event_id) == (kind, DeliveryState.QUEUED, event.pk)
    assert message.idempotency_key == f"case:{textable_case.pk}:event:{event.pk}:{kind}"
    assert textable_case.events.filter(kind=CaseEvent.Kind.MESSAGE, message__contains="text queued").exists()


def test_rolled_back_move_leaves_no_message(sms_env, frozen, textable_case):
    # given a move whose transaction fails after the case moved
    with pytest.raises(RuntimeError), transaction.atomic():
        transition(textable_case, Status.APPROVED)
        raise RuntimeError("later step failed")
    # then no outbox row exists
    assert not OutboundMessage.objects.exists()


def test_after_commit_the_send_is_enqueued_and_delivered_by_console(
    sms_env, frozen, textable_case, monkeypatch, django_capture_on_commit_callbacks
):
    # given django-q2 running tasks inline
    monkeypatch.setattr(Conf, "SYNC", True)
    # when a case is approved and its transaction commits
    with django_capture_on_commit_callbacks(execute=True):
        transition(textable_case, Status.APPROVED)
    # then the console backend got exactly one text with the first name and no clinical detail
    lines = sent_lines(sms_env)
    assert len(lines) == 1 and "Avery" in lines[0]["body"] and "MRI" not in lines[0]["body"]
    message = OutboundMessage.objects.get()
    assert message.delivery_state == DeliveryState.SENT and message.twilio_sid == lines[0]["sid"]


def test_no_consent_means_no_row_and_a_timeline_note(sms_env, frozen, textable_case):
    # given a patient without texting consent
    textable_case.patient.sms_consent = False
    textable_case.patient.save()
    # when the case is approved
    transition(textable_case, Status.APPROVED)
    # then nothing is queued, and staff see why
    assert not OutboundMessage.objects.exists()
    assert textable_case.events.filter(message__contains="no texting consent").exists()


def test_send_task_run_twice_sends_once(sms_env, frozen, textable_case, console):
    # given a queued message
    transition(textable_case, Status.APPROVED)
    message = OutboundMessage.objects.get()
    # when the send task runs twice (a redelivered django-q2 task)
    first = services.message_send(message_id=message.pk, notifier=console)
    second = services.message_send(message_id=message.pk, notifier=console)
    # then one text left, the second run saw the SID
    assert (first, second) == ("sent", "done")
    assert len(sent_lines(sms_env)) == 1


def test_crash_between_send_and_save_is_reconciled_without_a_second_send(
    sms_env, frozen, textable_case, console, monkeypatch
):
    # given a send that reached the provider but whose result was never saved (worker died)
    transition(textable_case, Status.APPROVED)
    message = OutboundMessage.objects.get()
    real_record_sent = services._record_sent

    def crash(*args, **kwargs):
        raise SystemExit("worker killed")

    monkeypatch.setattr(services, "_record_sent", crash)
    with pytest.raises(SystemExit):
        services.message_send(message_id=message.pk, notifier=console)
    monkeypatch.setattr(services, "_record_sent", real_record_sent)
    message.refresh_from_db()
    assert message.delivery_state == DeliveryState.SENDING and message.twilio_sid is None

    # when the retry comes at once, it keeps its hands off (the first worker might still be sending)
    assert services.message_send(message_id=message.pk, notifier=console) == "in_flight"
    # and when the claim is stale the poller picks it up and reconciles
    frozen.shift(dt.timedelta(minutes=3))
    assert services.send_due_messages() == [message.pk]
    outcome = services.message_send(message_id=message.pk, notifier=console)

    # then the provider's message is adopted, and nothing was sent twice
    lines = sent_lines(sms_env)
    message.refresh_from_db()
    assert outcome == "reconciled" and len(lines) == 1
    assert message.twilio_sid == lines[0]["sid"] and message.delivery_state == DeliveryState.SENT


def test_crash_before_the_provider_got_it_sends_on_retry(sms_env, frozen, textable_case, console):
    # given a claimed row whose worker died before calling the provider
    transition(textable_case, Status.APPROVED)
    message = OutboundMessage.objects.get()
    OutboundMessage.objects.filter(pk=message.pk).update(
        delivery_state=DeliveryState.SENDING, claimed_at=dt.datetime.now(dt.UTC)
    )
    frozen.shift(dt.timedelta(minutes=3))
    # when the stale claim is retried
    outcome = services.message_send(message_id=message.pk, notifier=console)
    # then the provider has nothing, so it is sent, once
    assert outcome == "sent" and len(sent_lines(sms_env)) == 1


def test_transient_error_retries_with_backoff_then_sends(sms_env, frozen, textable_case, console):
    # given a provider answering 503
    transition(textable_case, Status.APPROVED)
    message = OutboundMessage.objects.get()
    down = FailingNotifier(IntegrationError("Twilio HTTP 503", permanent=False))
    # when the send fails
    assert services.message_send(message_id=message.pk, notifier=down) == "retry"
    message.refresh_from_db()
    # then it waits (backoff) and is not due before then
    assert message.delivery_state == DeliveryState.QUEUED and message.attempts == 1
    assert message.next_attempt_at == dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1)
    assert services.message_send(message_id=message.pk, notifier=console) == "not_due"
    # and after the backoff it goes out
    frozen.shift(dt.timedelta(minutes=1))
    assert services.message_send(message_id=message.pk, notifier=console) == "sent"
    assert len(sent_lines(sms_env)) == 1


def test_transient_errors_give_up_after_max_attempts(sms_env, frozen, textable_case):
    transition(textable_case, Status.APPROVED)
    message = OutboundMessage.objects.get()
    down = FailingNotifier(IntegrationError("Twilio HTTP 503", permanent=False))
    # when every attempt fails
    outcomes = []
    for _ in range(services.MAX_ATTEMPTS):
        outcomes.append(services.message_send(message_id=message.pk, notifier=down))
        frozen.shift(dt.timedelta(hours=1))
    # then the last marks it failed and staff get a call task
    message.refresh_from_db()
    assert outcomes[-1] == "failed" and down.calls == services.MAX_ATTEMPTS
    assert message.delivery_state == DeliveryState.FAILED
    assert Task.objects.filter(case=textable_case, kind=Task.Kind.CALL_PATIENT).count() == 1


@pytest.mark.parametrize(
    ("code", "reason"),
    [("21211", "Invalid phone number"), ("21610", "unsubscribed"), ("21614", "Not a mobile number")],
)
def test_permanent_error_fails_once_shows_on_case_and_creates_call_task(sms_env, frozen, textable_case, code, reason):
    # given Twilio refusing the number
    transition(textable_case, Status.APPROVED)
    message = OutboundMessage.objects.get()
    from integrations.sms_twilio.notifiers import PERMANENT_ERROR_CODES

    error = IntegrationError(f"{code}: {PERMANENT_ERROR_CODES[int(code)]}", permanent=True)
    error.code = code
    refusing = FailingNotifier(error)
    # when it is sent, and the task runs again
    services.message_send(message_id=message.pk, notifier=refusing)
    services.message_send(message_id=message.pk, notifier=refusing)
    # then one attempt, marked failed with the reason on the timeline, and a call task
    message.refresh_from_db()
    assert refusing.calls == 1
    assert message.delivery_state == DeliveryState.FAILED and message.error_code == code
    failure = textable_case.events.get(kind=CaseEvent.Kind.MESSAGE, message__contains="failed")
    assert reason in failure.message
    assert Task.objects.filter(case=textable_case, kind=Task.Kind.CALL_PATIENT).count() == 1
    # and an unsubscribed number (21610) is recorded as an opt-out
    textable_case.patient.refresh_from_db()
    assert (textable_case.patient.sms_opted_out_at is not None) == (code == "21610")


def test_message_sent_with_a_sid_is_never_resent(sms_env, frozen, textable_case, console):
    # given a row that already has a SID
    transition(textable_case, Status.APPROVED)
    message = OutboundMessage.objects.get()
    services._record_sent(message.pk, SentMessage(sid="SM" + "1" * 32, state="queued"), via="twilio")
    # when the task runs
    outcome = services.message_send(message_id=message.pk, notifier=console)
    # then nothing is sent
    assert outcome == "done" and sent_lines(sms_env) == []
