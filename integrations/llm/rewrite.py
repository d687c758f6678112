"""The LLM rewrite of a case's medical-necessity summary (the draft itself is cases/summary.py).

The LLM only ever sees the draft, which names no patient: the minimum
necessary. Every attempt leaves a `SummaryRewrite` row.
"""

from __future__ import annotations

from cases.models import PriorAuthCase
from cases.summary import case_summary_set, summary_draft
from integrations.base import IntegrationError
from integrations.llm.client import chat_complete, llm_config
from integrations.llm.models import SummaryRewrite

SYSTEM_PROMPT = (
    "You edit prior authorization medical-necessity summaries. Rewrite the draft as one clear paragraph for a "
    "payer reviewer. Use only facts in the draft; add nothing, remove no dates, codes or values. No patient names."
)


def summary_llm_rewrite(*, case: PriorAuthCase) -> SummaryRewrite:
    """Ask the configured LLM to rewrite the current draft; store prompt and answer.

    The audit row is written before the call, so a crash mid-call still leaves
    a trace. Raises `IntegrationError` (recorded on the row) when it fails.
    """
    config = llm_config()
    draft = case.summary_text or summary_draft(case)
    messages = [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": draft}]
    audit = SummaryRewrite.objects.create(case=case, model_name=config.model, endpoint=config.url, prompt=messages)
    try:
        text = chat_complete(config, messages)
    except IntegrationError as exc:
        cause = exc.__cause__ or exc
        audit.error = f"{cause.__class__.__name__}: {str(cause)[:300]}"
        audit.save(update_fields=["error"])
        raise
    audit.response_text = text
    audit.applied = bool(text)
    audit.save(update_fields=["response_text", "applied"])
    if text:
        case_summary_set(case=case, text=text, source="llm")
    return audit
