"""The LLM channel: any OpenAI-compatible chat-completions endpoint.

The only module that makes HTTP calls to the LLM. Callers hand it messages
they have already reduced to the minimum necessary (no patient identifiers)
and get text back, or an `IntegrationError`.
"""

from integrations.llm.client import LlmConfig, chat_complete, llm_config, llm_enabled

__all__ = ["LlmConfig", "chat_complete", "llm_config", "llm_enabled"]
