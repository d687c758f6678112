"""The medical-necessity summary: a deterministic draft from the evidence,
optionally rewritten by an LLM (any OpenAI-compatible chat-completions API).

The draft names no patient (no name, birth date, MRN): the payer packet
carries demographics separately, and the LLM only ever sees this draft —
the minimum necessary. Any change of text clears a clinician's attestation.
"""

from __future__ import annotations

import requests
from django.conf import settings
from django.db import transaction

from cases.models import CaseEvent, PriorAuthCase, RequirementStatus
from cases.services import case_event_add
from integrations.base import IntegrationError
from integrations.ehr_fhir.models import SummaryRewrite
from payers.models import RequirementKind

SYSTEM_PROMPT = (
    "You edit prior authorization medical-necessity summaries. Rewrite the draft as one clear paragraph for a "
    "payer reviewer. Use only facts in the draft; add nothing, remove no dates, codes or values. No patient names."
)


def summary_draft(case: PriorAuthCase) -> str:
    order = case.order
    lines = [
        f"Requested: {order.code_system} {order.code} {order.description}"
        f" (quantity {order.quantity:g}), planned for {order.service_date.isoformat()}."
    ]
    if order.diagnosis_codes:
        lines.append("Diagnoses on the order: " + ", ".join(order.diagnosis_codes) + ".")
    met = {k: [] for k in RequirementKind.values}
    gaps = []
    for rs in case.requirement_statuses.select_related("requirement"):
        if rs.state == RequirementStatus.State.MET:
            met[rs.requirement.kind].append(rs)
        elif rs.state == RequirementStatus.State.GAP:
            gaps.append(rs.requirement.description)

    def facts(kind):
        return "; ".join(
            f"{e.get('value')} ({e.get('date')})" for rs in met[kind] for e in rs.evidence[:3] if e.get("value")
        )

    for kind, label in (
        (RequirementKind.DIAGNOSIS, "Documented diagnoses"),
        (RequirementKind.MEDICATION_TRIAL, "Prior therapy tried"),
        (RequirementKind.THERAPY, "Conservative therapy"),
        (RequirementKind.LAB, "Key results"),
        (RequirementKind.IMAGING, "Prior imaging"),
        (RequirementKind.NOTE, "Clinical notes"),
    ):
        text = facts(kind)
        if text:
            lines.append(f"{label}: {text}.")
    if case.rule_id and case.rule.criteria_reference:
        lines.append(
            f"The request meets the documentation requirements of payer policy {case.rule.criteria_reference}"
            + (" except as noted." if gaps else ".")
        )
    if gaps:
        lines.append("Still missing: " + "; ".join(gaps) + ".")
    return "\n".join(lines)


def case_summary_set(*, case: PriorAuthCase, text: str, source: str, actor=None) -> PriorAuthCase:
    """Set the summary; a different text clears the attestation (the clinician
    attested exact words, not the idea)."""
    with transaction.atomic():
        locked = PriorAuthCase.objects.select_for_update(of=("self",)).get(pk=case.pk)
        if locked.summary_text == text and locked.summary_source == source:
            return locked
        had_attestation = bool(locked.summary_attested_at)
        locked.summary_text = text
        locked.summary_source = source
        fields = ["summary_text", "summary_source"]
        if had_attestation and locked.summary_attested_text != text:
            locked.summary_attested_by = None
            locked.summary_attested_at = None
            locked.summary_attested_text = ""
            fields += ["summary_attested_by", "summary_attested_at", "summary_attested_text"]
        locked.save(update_fields=fields)
        verb = {"template": "drafted from data", "llm": "rewritten by LLM"}.get(source, "edited")
        message = f"Summary {verb}"
        if "summary_attested_at" in fields:
            message += "; attestation cleared"
        case_event_add(case=locked, kind=CaseEvent.Kind.SYSTEM, actor=actor, message=message, source=source)
    for name in (
        "summary_text",
        "summary_source",
        "summary_attested_by_id",
        "summary_attested_at",
        "summary_attested_text",
    ):
        setattr(case, name, getattr(locked, name))
    return case


def summary_build(*, case: PriorAuthCase, actor=None) -> PriorAuthCase:
    return case_summary_set(case=case, text=summary_draft(case), source="template", actor=actor)


def llm_enabled() -> bool:
    return bool(getattr(settings, "LLM_BASE_URL", "") and getattr(settings, "LLM_MODEL", ""))


def summary_llm_rewrite(*, case: PriorAuthCase) -> SummaryRewrite:
    """Ask the configured LLM to rewrite the current draft; store prompt and answer."""
    if not llm_enabled():
        raise IntegrationError("No LLM is configured (LLM_BASE_URL, LLM_MODEL).", permanent=True)
    draft = case.summary_text or summary_draft(case)
    messages = [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": draft}]
    url = settings.LLM_BASE_URL.rstrip("/") + "/chat/completions"
    audit = SummaryRewrite.objects.create(case=case, model_name=settings.LLM_MODEL, endpoint=url, prompt=messages)
    headers = {"Content-Type": "application/json"}
    if getattr(settings, "LLM_API_KEY", ""):
        headers["Authorization"] = f"Bearer {settings.LLM_API_KEY}"
    try:
        response = requests.post(
            url,
            json={"model": settings.LLM_MODEL, "messages": messages, "temperature": 0},
            headers=headers,
            timeout=getattr(settings, "LLM_TIMEOUT_SECONDS", 30),
        )
        response.raise_for_status()
        text = response.json()["choices"][0]["message"]["content"].strip()
    except (requests.RequestException, ValueError, KeyError, IndexError, TypeError) as exc:
        audit.error = f"{exc.__class__.__name__}: {str(exc)[:300]}"
        audit.save(update_fields=["error"])
        raise IntegrationError(f"LLM rewrite failed ({exc.__class__.__name__}).") from exc
    audit.response_text = text
    audit.applied = bool(text)
    audit.save(update_fields=["response_text", "applied"])
    if text:
        case_summary_set(case=case, text=text, source="llm")
    return audit
