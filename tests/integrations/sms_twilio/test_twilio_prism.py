"""The Twilio notifier over real HTTP against Prism serving Twilio's own OpenAPI description.

Prism validates each request against the spec (path, auth, required and
well-formed parameters) and answers 422 otherwise, so a wrong parameter name
or value fails these tests.
"""

import datetime as dt

import pytest

from cases.models import Status
from cases.transitions import transition
from integrations.base import IntegrationError, Notifier
from integrations.sms_twilio import services
from integrations.sms_twilio.config import sms_config
from integrations.sms_twilio.models import DeliveryState, OutboundMessage
from integrations.sms_twilio.notifiers import TwilioNotifier, get_notifier
from tests.integrations.sms_twilio.conftest import ACCOUNT_SID, AUTH_TOKEN, PUBLIC_BASE_URL, SERVICE_SID


@pytest.fixture
def twilio_env(monkeypatch, prism_url, settings):
    monkeypatch.setenv("SMS_BACKEND", "twilio")
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", ACCOUNT_SID)
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", AUTH_TOKEN)
    monkeypatch.setenv("TWILIO_MESSAGING_SERVICE_SID", SERVICE_SID)
    monkeypatch.delenv("TWILIO_FROM_NUMBER", raising=False)
    settings.PUBLIC_BASE_URL = PUBLIC_BASE_URL
    monkeypatch.setenv("TWILIO_API_BASE_URL", prism_url)


def test_twilio_backend_is_a_notifier_pointed_at_the_mock(twilio_env, prism_url):
    notifier = get_notifier()
    assert isinstance(notifier, TwilioNotifier) and isinstance(notifier, Notifier)
    assert notifier.client.api.base_url == prism_url


def test_outbox_row_is_sent_through_twilio_api(twilio_env, frozen, textable_case):
    # given an approved case with a queued text
    transition(textable_case, Status.APPROVED)
    message = OutboundMessage.objects.get()
    # when the send task runs against the Twilio API description (Messaging Service + status callback)
    outcome = services.message_send(message_id=message.pk)
    # then Twilio's answer (the spec's example) is stored: its SID, state "queued" → sending
    message.refresh_from_db()
    assert outcome == "sent"
    assert message.twilio_sid == "SM" + "a" * 32 and message.delivery_state == DeliveryState.SENDING
    assert message.attempts == 1
    # and running it again sends nothing
    assert services.message_send(message_id=message.pk) == "done"


def test_from_number_instead_of_messaging_service(twilio_env, monkeypatch):
    monkeypatch.delenv("TWILIO_MESSAGING_SERVICE_SID")
    monkeypatch.setenv("TWILIO_FROM_NUMBER", "+15555550999")
    result = get_notifier().send(to="+15555550123", body="Hi", status_callback=PUBLIC_BASE_URL + "/x?ob=k")
    assert result.sid.startswith("SM")


def test_a_wrong_parameter_is_refused_by_the_spec(twilio_env, monkeypatch):
    # given a Messaging Service SID that does not match Twilio's pattern (MG + 32 hex)
    monkeypatch.setenv("TWILIO_MESSAGING_SERVICE_SID", "MG-not-a-sid")
    # when sending
    with pytest.raises(IntegrationError) as caught:
        get_notifier().send(to="+15555550123", body="Hi")
    # then the mock rejects it (422) and it is a permanent error: retrying the same request cannot help
    assert caught.value.permanent and "422" in str(caught.value)


def test_a_bad_account_sid_is_refused_by_the_spec(twilio_env, monkeypatch):
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", "ACnot-a-real-account-sid")
    with pytest.raises(IntegrationError) as caught:
        get_notifier().send(to="+15555550123", body="Hi")
    assert caught.value.permanent


def test_find_sent_lists_messages_and_matches_body_and_time(twilio_env):
    # given the spec's example list holds a message with body "testing" created on 2019-05-24
    notifier = get_notifier()
    # when reconciling a send claimed just before it
    found = notifier.find_sent(to="+123456789", body="testing", since=dt.datetime(2019, 5, 24, 17, 40, tzinfo=dt.UTC))
    # then that message is found by body and time; a different body or a later claim finds none
    assert found is not None and found.sid.startswith("SM")
    assert notifier.find_sent(to="+123456789", body="other", since=dt.datetime(2019, 1, 1, tzinfo=dt.UTC)) is None
    assert notifier.find_sent(to="+123456789", body="testing", since=dt.datetime(2020, 1, 1, tzinfo=dt.UTC)) is None


def test_unreachable_twilio_is_a_transient_error(twilio_env, monkeypatch):
    monkeypatch.setenv("TWILIO_API_BASE_URL", "http://127.0.0.1:9")  # discard port: connection refused
    with pytest.raises(IntegrationError) as caught:
        get_notifier().send(to="+15555550123", body="Hi")
    assert not caught.value.permanent


def test_twilio_backend_without_credentials_fails_loudly(monkeypatch):
    from django.core.exceptions import ImproperlyConfigured

    monkeypatch.setenv("SMS_BACKEND", "twilio")
    for name in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_MESSAGING_SERVICE_SID", "TWILIO_FROM_NUMBER"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ImproperlyConfigured, match="TWILIO_ACCOUNT_SID"):
        sms_config()


def test_production_defaults_to_twilio_and_check_fails_without_credentials(monkeypatch, settings):
    from integrations.sms_twilio.apps import check_sms_config

    settings.PRODUCTION = True
    monkeypatch.delenv("SMS_BACKEND", raising=False)
    monkeypatch.delenv("TWILIO_ACCOUNT_SID", raising=False)
    errors = check_sms_config()
    assert [e.id for e in errors] == ["sms_twilio.E001"]


def test_twilio_backend_without_a_public_base_url_fails_loudly(twilio_env, settings):
    # the one PUBLIC_BASE_URL of the settings (empty in production unless set) is what signatures are checked against
    from django.core.exceptions import ImproperlyConfigured

    settings.PUBLIC_BASE_URL = ""
    with pytest.raises(ImproperlyConfigured, match="PUBLIC_BASE_URL"):
        sms_config()
