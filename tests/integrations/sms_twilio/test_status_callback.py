import itertools
from urllib.parse import urlencode

import pytest

from cases.models import Status, Task
from cases.transitions import transition
from integrations.sms_twilio import services
from integrations.sms_twilio.models import DeliveryState, DeliveryStatusEvent, OutboundMessage
from tests.integrations.sms_twilio.conftest import post_signed, sign

STATUS = "/integrations/twilio/status"
SID = "SM" + "c" * 32


@pytest.fixture
def sent_message(sms_env, frozen, textable_case, console, monkeypatch):
    """An approved-text row handed to the provider under a known SID."""
    transition(textable_case, Status.APPROVED)
    message = OutboundMessage.objects.get()
    monkeypatch.setattr(console, "send", lambda **kw: services.SentMessage(sid=SID, state="queued"))
    assert services.message_send(message_id=message.pk, notifier=console) == "sent"
    message.refresh_from_db()
    return message


def callback(status: str, sid: str = SID, error: str = "") -> dict:
    params = {"MessageSid": sid, "SmsSid": sid, "MessageStatus": status, "AccountSid": "AC" + "a" * 32}
    if error:
        params["ErrorCode"] = error
    return params


def path_for(message) -> str:
    return f"{STATUS}?{urlencode({'ob': message.idempotency_key})}"


def test_signed_callback_advances_the_state(client, sent_message):
    response = post_signed(client, path_for(sent_message), callback("delivered"))
    assert response.status_code == 204
    sent_message.refresh_from_db()
    assert sent_message.delivery_state == DeliveryState.DELIVERED
    assert sent_message.case.events.filter(message__contains="text delivered").exists()


@pytest.mark.parametrize(
    "forgery",
    ["no_signature", "wrong_token", "altered_status", "added_field", "other_url", "other_query"],
)
def test_forged_or_altered_callbacks_are_rejected_without_change(client, sent_message, forgery):
    # given a callback signed for one request
    path = path_for(sent_message)
    params = callback("delivered")
    headers = {"HTTP_X_TWILIO_SIGNATURE": sign(path, params)}
    if forgery == "no_signature":
        headers = {}
    elif forgery == "wrong_token":
        headers = {"HTTP_X_TWILIO_SIGNATURE": sign(path, params, token="not-the-auth-token")}
    elif forgery == "altered_status":
        params = {**params, "MessageStatus": "failed"}
    elif forgery == "added_field":
        params = {**params, "ErrorCode": "30003"}
    elif forgery == "other_url":
        headers = {"HTTP_X_TWILIO_SIGNATURE": sign(path, params, base="https://attacker.example")}
    elif forgery == "other_query":
        path = f"{STATUS}?ob=case:999:event:1:approved"
    # when it arrives changed
    response = client.post(path, params, **headers)
    # then 403 and nothing moved or was recorded
    assert response.status_code == 403
    sent_message.refresh_from_db()
    assert sent_message.delivery_state == DeliveryState.SENDING
    assert not DeliveryStatusEvent.objects.filter(state__in=["delivered", "failed"]).exists()


def test_signature_is_checked_against_the_public_url_behind_a_proxy(client, sent_message, settings):
    # given Django sees an internal host over plain http while Twilio signed the public https URL
    settings.ALLOWED_HOSTS = ["app-internal"]
    path = path_for(sent_message)
    params = callback("sent")
    response = client.post(
        path, params, HTTP_HOST="app-internal:8000", HTTP_X_TWILIO_SIGNATURE=sign(path, params), secure=False
    )
    # then it is accepted because PUBLIC_BASE_URL, not the Host header, is what was signed
    assert response.status_code == 204


def test_replayed_callbacks_change_nothing_more(client, sent_message):
    for status in ["sent", "delivered", "delivered", "sent", "delivered"]:
        assert post_signed(client, path_for(sent_message), callback(status)).status_code == 204
    sent_message.refresh_from_db()
    assert sent_message.delivery_state == DeliveryState.DELIVERED
    assert DeliveryStatusEvent.objects.filter(sid=SID).count() == 2  # one per (SID, status)
    assert sent_message.case.events.filter(message__contains="text delivered").count() == 1


@pytest.mark.parametrize(
    ("sequence", "final"),
    [
        (["queued", "sent", "delivered"], DeliveryState.DELIVERED),
        (["queued", "sent", "undelivered"], DeliveryState.UNDELIVERED),
        (["queued", "failed"], DeliveryState.FAILED),
    ],
)
def test_shuffled_callbacks_end_at_the_right_final_state(client, sent_message, sequence, final):
    for order in itertools.permutations(sequence):
        # given every arrival order, replayed twice, on a fresh row
        DeliveryStatusEvent.objects.all().delete()
        Task.objects.all().delete()
        OutboundMessage.objects.filter(pk=sent_message.pk).update(delivery_state=DeliveryState.SENDING)
        for status in order + order:
            error = "30003" if status in ("undelivered", "failed") else ""
            post_signed(client, path_for(sent_message), callback(status, error=error))
        # then the state is the final one, whatever the order
        sent_message.refresh_from_db()
        assert sent_message.delivery_state == final, order
    if final != DeliveryState.DELIVERED:
        assert sent_message.error_code == "30003"
        assert Task.objects.filter(kind=Task.Kind.CALL_PATIENT).count() == 1


def test_callback_before_the_sid_was_saved_attaches_by_key(client, sms_env, frozen, textable_case):
    # given a row claimed for sending whose SID was never saved (crash)
    transition(textable_case, Status.APPROVED)
    message = OutboundMessage.objects.get()
    OutboundMessage.objects.filter(pk=message.pk).update(delivery_state=DeliveryState.SENDING)
    # when Twilio's callback arrives, carrying our key in the URL we gave it
    post_signed(client, path_for(message), callback("delivered"))
    # then the row has its SID and state, and a retry will not send it again
    message.refresh_from_db()
    assert message.twilio_sid == SID and message.delivery_state == DeliveryState.DELIVERED
    assert services.message_send(message_id=message.pk) == "done"


def test_callback_for_an_unknown_sid_is_applied_when_the_send_is_saved(client, sms_env, frozen, textable_case):
    # given a callback that arrives before the send's result is committed, without our key
    transition(textable_case, Status.APPROVED)
    message = OutboundMessage.objects.get()
    assert post_signed(client, STATUS, callback("delivered")).status_code == 204
    # when the send's result is saved
    services._record_sent(message.pk, services.SentMessage(sid=SID, state="queued"), via="twilio")
    # then the earlier callback counts
    message.refresh_from_db()
    assert message.delivery_state == DeliveryState.DELIVERED
