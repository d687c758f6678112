"""integrations/llm at its seam: one chat-completions call against a real HTTP endpoint on loopback."""

import pytest
from django.test import override_settings

from integrations.base import IntegrationError
from integrations.llm import chat_complete, llm_config, llm_enabled
from tests.integrations.llm.loopback import llm_endpoint

MESSAGES = [{"role": "system", "content": "Edit."}, {"role": "user", "content": "Draft."}]


def test_a_configured_endpoint_gets_the_model_the_key_and_the_messages():
    # given an endpoint on loopback and the settings that name it
    with llm_endpoint(answer="  Better draft.\n") as (base, seen):
        with override_settings(LLM_BASE_URL=base + "/", LLM_MODEL="m", LLM_API_KEY="k"):
            # when one completion is asked for
            text = chat_complete(llm_config(), MESSAGES)
    # then the request is an OpenAI-style chat completion and the answer comes back stripped
    path, auth, body = seen[-1]
    assert path == "/v1/chat/completions" and auth == "Bearer k"
    assert body == {"model": "m", "messages": MESSAGES, "temperature": 0}
    assert text == "Better draft."


@override_settings(LLM_BASE_URL="", LLM_MODEL="m")
def test_without_an_endpoint_the_llm_is_off_and_asking_is_a_permanent_error():
    # given no LLM_BASE_URL
    # when the configuration is read
    # then the LLM is off, and asking for it fails permanently (retrying will not help)
    assert not llm_enabled()
    with pytest.raises(IntegrationError) as err:
        llm_config()
    assert err.value.permanent


@pytest.mark.parametrize(
    ("status", "answer", "cause"),
    [
        (503, {"error": "overloaded"}, "HTTPError"),
        (200, {"unexpected": True}, "KeyError"),
        (200, {"choices": []}, "IndexError"),
    ],
)
def test_an_unavailable_or_malformed_answer_is_a_temporary_integration_error(status, answer, cause):
    # given an endpoint that is down or answers in another shape
    with llm_endpoint(status=status, answer=answer) as (base, _):
        with override_settings(LLM_BASE_URL=base, LLM_MODEL="m", LLM_API_KEY=""):
            # when a completion is asked for
            with pytest.raises(IntegrationError) as err:
                chat_complete(llm_config(), MESSAGES)
    # then it is an IntegrationError worth retrying, naming the cause but no text that was sent
    assert not err.value.permanent
    assert cause in str(err.value) and "Draft." not in str(err.value)
    assert err.value.__cause__.__class__.__name__ == cause
