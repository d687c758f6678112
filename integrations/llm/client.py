"""One chat-completions call over HTTP, its errors turned into `IntegrationError`."""

from __future__ import annotations

from dataclasses import dataclass

import requests
from django.conf import settings

from integrations.base import IntegrationError


@dataclass(frozen=True)
class LlmConfig:
    url: str  # the full chat-completions URL
    model: str
    api_key: str
    timeout: float


def llm_enabled() -> bool:
    """An LLM is configured (LLM_BASE_URL and LLM_MODEL); without one the summary stays the template draft."""
    return bool(getattr(settings, "LLM_BASE_URL", "") and getattr(settings, "LLM_MODEL", ""))


def llm_config() -> LlmConfig:
    """The endpoint and credentials, read in one place. Raises a permanent `IntegrationError` when missing."""
    if not llm_enabled():
        raise IntegrationError("No LLM is configured (LLM_BASE_URL, LLM_MODEL).", permanent=True)
    return LlmConfig(
        url=settings.LLM_BASE_URL.rstrip("/") + "/chat/completions",
        model=settings.LLM_MODEL,
        api_key=getattr(settings, "LLM_API_KEY", ""),
        timeout=getattr(settings, "LLM_TIMEOUT_SECONDS", 30),
    )


def chat_complete(config: LlmConfig, messages: list[dict]) -> str:
    """Send `messages` and return the first choice's text (stripped).

    Temperature 0: the rewrite should be repeatable, not creative. Any
    transport error, HTTP error or malformed answer is an `IntegrationError`
    (not permanent: a timeout or a 503 may pass); its message names only the
    exception class, never the text sent.
    """
    headers = {"Content-Type": "application/json"}
    if config.api_key:
        headers["Authorization"] = f"Bearer {config.api_key}"
    try:
        response = requests.post(
            config.url,
            json={"model": config.model, "messages": messages, "temperature": 0},
            headers=headers,
            timeout=config.timeout,
        )
        response.raise_for_status()
        return response.json()["choices"][0]["message"]["content"].strip()
    except (requests.RequestException, ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
        raise IntegrationError(f"LLM rewrite failed ({exc.__class__.__name__}).") from exc
