"""Signed Twilio webhooks with fields our columns cannot hold: 400, nothing stored (issue 18 item 8)."""

import pytest

from integrations.sms_twilio.models import DeliveryStatusEvent, InboundMessage
from tests.integrations.sms_twilio.conftest import post_signed

LONG_SID = "SM" + "c" * 70


@pytest.mark.parametrize("path", ["/integrations/twilio/status", "/integrations/twilio/inbound"])
def test_message_sid_over_64_characters_is_refused(db, client, sms_env, path):
    params = {"MessageSid": LONG_SID, "MessageStatus": "delivered", "From": "+15555550123", "Body": "STOP"}
    response = post_signed(client, path, params)
    assert response.status_code == 400
    assert not DeliveryStatusEvent.objects.exists()
    assert not InboundMessage.objects.exists()


@pytest.mark.parametrize("path", ["/integrations/twilio/status", "/integrations/twilio/inbound"])
def test_a_nul_in_any_field_is_refused(db, client, sms_env, path):
    params = {"MessageSid": "SM" + "a" * 32, "MessageStatus": "delivered", "From": "+1555\x00", "Body": "STOP"}
    response = post_signed(client, path, params)
    assert response.status_code == 400
    assert not InboundMessage.objects.exists()
