import pytest
from django.urls import reverse

from cases.models import Status
from cases.transitions import transition
from integrations.sms_twilio import services
from integrations.sms_twilio.models import ConsentEvent, DeliveryState, InboundMessage, OutboundMessage
from tests.integrations.sms_twilio.conftest import post_signed, sent_lines

INBOUND = "/integrations/twilio/inbound"
OPT_OUT_WORDS = ["STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"]


def inbound_params(body: str, sid: str = "SM" + "b" * 32) -> dict:
    return {
        "MessageSid": sid,
        "AccountSid": "AC" + "a" * 32,
        "From": "+15555550123",
        "To": "+15555550999",
        "Body": body,
    }


@pytest.mark.parametrize("word", OPT_OUT_WORDS)
@pytest.mark.parametrize("spelling", [str.upper, str.lower, str.title, lambda w: f"  {w.lower()} \n"])
def test_opt_out_keyword_stops_later_texts(client, sms_env, frozen, textable_case, console, word, spelling):
    # given a patient with a text already queued
    transition(textable_case, Status.PENDED)
    queued = OutboundMessage.objects.get()
    # when the patient replies with an opt-out keyword, in any case and with spaces
    response = post_signed(client, INBOUND, inbound_params(spelling(word)))
    # then the opt-out is recorded at once, the queued text is not sent, and later moves queue nothing
    assert response.status_code == 200
    textable_case.patient.refresh_from_db()
    assert textable_case.patient.sms_opted_out_at is not None
    assert services.message_send(message_id=queued.pk, notifier=console) == "done"
    queued.refresh_from_db()
    assert queued.delivery_state == DeliveryState.CANCELLED
    transition(textable_case, Status.APPROVED)
    assert OutboundMessage.objects.count() == 1 and sent_lines(sms_env) == []
    assert ConsentEvent.objects.get().keyword == word


def test_start_opts_back_in(client, sms_env, frozen, textable_case):
    # given a patient who opted out by text
    post_signed(client, INBOUND, inbound_params("STOP", sid="SM" + "1" * 32))
    # when they text START
    post_signed(client, INBOUND, inbound_params(" unstop ", sid="SM" + "2" * 32))
    # then texts are allowed again
    textable_case.patient.refresh_from_db()
    assert textable_case.patient.sms_opted_out_at is None
    transition(textable_case, Status.APPROVED)
    assert OutboundMessage.objects.count() == 1


def test_help_replies_with_the_practice_contact(client, sms_env, textable_case):
    # when the patient texts HELP
    response = post_signed(client, INBOUND, inbound_params("help"))
    # then TwiML answers with the practice's name and phone, and nothing about the case
    assert response["Content-Type"].startswith("text/xml")
    text = response.content.decode()
    assert "<Message>" in text and "Riverside Medical Group" in text and "+15555550100" in text
    assert InboundMessage.objects.get().action == InboundMessage.Action.HELP


def test_free_text_reply_is_not_stored(client, sms_env, textable_case):
    # when the patient texts something that is not a keyword
    post_signed(client, INBOUND, inbound_params("my knee still hurts after the injection"))
    # then only the fact of a reply is kept, not its words, and consent is unchanged
    inbound = InboundMessage.objects.get()
    assert inbound.action == InboundMessage.Action.OTHER and inbound.keyword == ""
    textable_case.patient.refresh_from_db()
    assert textable_case.patient.sms_opted_out_at is None


def test_unsigned_inbound_is_rejected(client, sms_env, textable_case):
    # when a STOP arrives without a valid signature
    response = client.post(INBOUND, inbound_params("STOP"), HTTP_X_TWILIO_SIGNATURE="forged")
    # then 403 and the patient is unchanged
    assert response.status_code == 403
    textable_case.patient.refresh_from_db()
    assert textable_case.patient.sms_opted_out_at is None and not InboundMessage.objects.exists()


def test_staff_records_phone_opt_out_from_case_page(client, sms_env, frozen, textable_case, coordinator):
    # given a coordinator looking at the case
    client.force_login(coordinator)
    page = client.get(textable_case.get_absolute_url())
    assert b"no more texts" in page.content
    # when they record that the patient asked by phone
    response = client.post(reverse("sms_twilio:case_opt_out", args=[textable_case.pk]))
    # then the patient is opted out, logged with who did it, and on the timeline
    assert response.status_code == 302
    textable_case.patient.refresh_from_db()
    assert textable_case.patient.sms_opted_out_at is not None
    event = ConsentEvent.objects.get()
    assert (event.source, event.actor) == (ConsentEvent.Source.STAFF_PHONE, coordinator)
    assert textable_case.events.filter(message__contains="asked by phone").exists()


def test_phone_opt_out_of_an_invisible_case_is_404(client, sms_env, textable_case, outsider):
    client.force_login(outsider)
    response = client.post(reverse("sms_twilio:case_opt_out", args=[textable_case.pk]))
    assert response.status_code == 404
    textable_case.patient.refresh_from_db()
    assert textable_case.patient.sms_opted_out_at is None
