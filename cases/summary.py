"""The medical-necessity summary: a deterministic draft from the evidence,
which integrations/llm/rewrite.py may rewrite with an LLM (any
OpenAI-compatible chat-completions API).

The draft names no patient (no name, birth date, MRN): the payer packet
carries demographics separately, and the LLM only ever sees this draft —
the minimum necessary. Any change of text clears a clinician's attestation.
"""

from __future__ import annotations

import hashlib

from django.db import transaction

from cases.models import CaseEvent, PriorAuthCase, RequirementStatus, Status
from cases.services import case_event_add
from payers.models import RequirementKind

# While the payer does not have the request yet, staff may still change the summary; a pended case's
# changed summary goes to the payer with the additional information (flagged as changed).
EDITABLE_STATUSES = frozenset({Status.GATHERING, Status.NEEDS_CLINICIAN, Status.READY, Status.PENDED})


def summary_draft(case: PriorAuthCase) -> str:
    """The summary written from the case's order and met requirements' evidence; names no patient."""
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


def _basis(draft: str) -> str:
    return hashlib.sha256(draft.encode()).hexdigest()


def case_summary_set(*, case: PriorAuthCase, text: str, source: str, actor=None) -> PriorAuthCase:
    """Set the summary; a different text clears the attestation (the clinician
    attested exact words, not the idea). Records which evidence the text follows
    (`summary_basis`: the fingerprint of the draft as the evidence stands now)."""
    basis = _basis(summary_draft(case))
    with transaction.atomic():
        locked = PriorAuthCase.objects.select_for_update(of=("self",)).get(pk=case.pk)
        if locked.summary_text == text and locked.summary_source == source:
            if locked.summary_basis != basis:
                PriorAuthCase.objects.filter(pk=locked.pk).update(summary_basis=basis)
                case.summary_basis = basis
            return locked
        had_attestation = bool(locked.summary_attested_at)
        locked.summary_text = text
        locked.summary_source = source
        locked.summary_basis = basis
        fields = ["summary_text", "summary_source", "summary_basis"]
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
        "summary_basis",
        "summary_attested_by_id",
        "summary_attested_at",
        "summary_attested_text",
    ):
        setattr(case, name, getattr(locked, name))
    return case


def summary_build(*, case: PriorAuthCase, actor=None) -> PriorAuthCase:
    """Replace the summary with a fresh template draft (after the packet was assembled)."""
    return case_summary_set(case=case, text=summary_draft(case), source="template", actor=actor)


def summary_refresh(*, case: PriorAuthCase, actor=None) -> bool:
    """Follow the evidence: called (by `cases.readiness.case_reconcile`) whenever a gap is met or
    reopened, a document is added or a requirement resolved. Returns True when something changed.

    A drafted summary (or none yet) is redrafted, so it never claims a met gap is missing; the new
    text clears the attestation. An LLM rewrite of an older draft is replaced by the new draft (the
    rewrite is not re-run here: cases/ does not call integrations). A text staff wrote is kept — it
    is theirs — but its attestation is cleared and the timeline says to check it against the evidence.
    """
    draft = summary_draft(case)
    basis = _basis(draft)
    # A draft follows its evidence; a text of unrecorded origin is kept like a person's words.
    if case.summary_source == "template" or not case.summary_text.strip():
        if case.summary_text == draft:
            if case.summary_basis != basis:
                PriorAuthCase.objects.filter(pk=case.pk).update(summary_basis=basis)
                case.summary_basis = basis
            return False
        case_summary_set(case=case, text=draft, source="template", actor=actor)
        return True
    if case.summary_basis == basis:
        return False
    if case.summary_source == "llm":
        case_summary_set(case=case, text=draft, source="template", actor=actor)
        return True
    if not case.summary_basis:
        # Written before the evidence was fingerprinted: take the evidence as it stands as its basis.
        PriorAuthCase.objects.filter(pk=case.pk).update(summary_basis=basis)
        case.summary_basis = basis
        return False
    # Staff wrote it: keep their words, but nobody may rely on an attestation given before the evidence changed.
    with transaction.atomic():
        fields = {"summary_basis": basis}
        attested = bool(case.summary_attested_at)
        if attested:
            fields.update(summary_attested_by=None, summary_attested_at=None, summary_attested_text="")
        PriorAuthCase.objects.filter(pk=case.pk).update(**fields)
        for name, value in fields.items():
            setattr(case, name, value)
        case_event_add(
            case=case,
            kind=CaseEvent.Kind.SYSTEM,
            actor=actor,
            message="Evidence changed since staff wrote the summary: check its text"
            + ("; attestation cleared" if attested else ""),
        )
    return True
