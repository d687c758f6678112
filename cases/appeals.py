"""Appealing a denial: a letter drafted from the case, and the appeal filed.

PRODUCT.md step 7: a denial gets "an appeal letter drafted from the denial
reason and the packet". The draft is deterministic (no LLM): the payer's
reason, the request, the documentation that met each requirement with its
dates, what staff resolved, and the clinician's attested summary. Staff edit
it on the case page, then file: the case moves to `appealed`, the exact text
is kept as a generated document (what was sent), the denial task is closed
and a task waits for the payer's appeal decision, due when the appeal's own
deadline ends (`transitions.appeal_window`: 72 h expedited, 30 days standard).

Sending the letter is the staff's: by the payer's portal or fax (no payer
API for appeals is assumed). The letter goes to the payer, so it carries what
the payer needs to find the member (name, birth date, member id); it never
goes to a log, an SMS or a URL.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from cases.detection import coverage_active_for
from cases.documents import document_store
from cases.models import Document, PriorAuthCase, RequirementStatus, Status, Task, Urgency
from cases.services import ActionRefused, task_create, tasks_close
from cases.transitions import transition

APPEALABLE = frozenset({Status.DENIED, Status.PARTIALLY_APPROVED})
LETTER_MAX_CHARS = 20_000


def appeal_letter_draft(case: PriorAuthCase) -> str:
    """A first draft of the appeal letter, written from the case's data."""
    order = case.order
    patient = case.patient
    provider = order.ordering_provider
    practice = case.practice
    coverage, _ = coverage_active_for(order=order)
    payer = case.payer.name if case.payer_id else "the health plan"
    today = timezone.localdate()
    reference = case.payer_tracking_id or case.authorization_number or f"our case {case.pk}"
    decision = "partially approved" if case.status == Status.PARTIALLY_APPROVED else "denied"
    decided = f" on {timezone.localtime(case.decided_at):%m/%d/%Y}" if case.decided_at else ""
    reason = " ".join(x for x in (case.denial_reason_code, case.denial_reason_text) if x) or "no reason was given"

    lines = [
        f"{practice.name}",
        f"{today:%B %-d, %Y}",
        "",
        f"To: {payer}, Utilization Management – Appeals",
        f"Re: Request for reconsideration of prior authorization {reference}",
        f"Member: {patient.first_name} {patient.last_name}, born {patient.birth_date:%m/%d/%Y}"
        + (f", member id {coverage.member_id}" if coverage else ""),
        f"Requested: {order.code_system} {order.code} {order.description}".rstrip()
        + (f", {order.quantity:g} {order.units}".rstrip() if getattr(order, "quantity", None) else ""),
        "Diagnoses: " + (", ".join(order.diagnosis_codes) if order.diagnosis_codes else "see the enclosed records"),
        f"Ordering provider: {provider.first_name} {provider.last_name}"
        + (f", {provider.credentials}" if provider.credentials else "")
        + f", NPI {provider.npi}",
        "",
        f"The request above was {decided and decision + decided or decision}. The reason given: {reason}.",
        "We ask you to reconsider. The documentation below addresses the criteria for this service.",
        "",
    ]
    statuses = list(case.requirement_statuses.select_related("requirement").order_by("requirement__position"))
    if statuses:
        lines.append("Documentation of the criteria:")
        for rs in statuses:
            label = rs.requirement.description or rs.requirement.get_kind_display()
            if rs.state == RequirementStatus.State.MET:
                found = "; ".join(
                    f"{ev.get('value', '')}{' (' + ev['date'] + ')' if ev.get('date') else ''}".strip()
                    for ev in rs.evidence
                    if ev.get("value") or ev.get("date")
                )
                lines.append(f"- {label}: met" + (f" – {found}" if found else ""))
            elif rs.state == RequirementStatus.State.WAIVED:
                lines.append(f"- {label}: addressed" + (f" – {rs.note}" if rs.note else ""))
            else:
                lines.append(f"- {label}: [add the documentation that addresses this criterion]")
        lines.append("")
    summary = case.summary_attested_text or case.summary_text
    if summary:
        lines += ["Statement of medical necessity:", summary.strip(), ""]
    # What the payer already has from us, and its own letters, are not enclosures.
    not_enclosed = (Document.Kind.PAYER_LETTER, Document.Kind.APPEAL_LETTER, Document.Kind.SUBMISSION_PACKET)
    enclosed = list(case.documents.exclude(kind__in=not_enclosed).values_list("title", flat=True)[:20])
    if enclosed:
        lines += ["Enclosed:"] + [f"- {title}" for title in enclosed] + [""]
    if case.urgency == Urgency.EXPEDITED:
        lines += [
            "Waiting the standard time could seriously jeopardize the patient's life, health or ability to regain "
            "maximum function: we request an expedited review.",
            "",
        ]
    lines += [
        "Please contact our office to arrange a peer-to-peer discussion if that would help your review.",
        "",
        "Sincerely,",
        "",
        f"{provider.first_name} {provider.last_name}" + (f", {provider.credentials}" if provider.credentials else ""),
        f"{practice.name}" + (f" · {practice.phone}" if practice.phone else ""),
    ]
    return "\n".join(lines)


def case_file_appeal(*, case: PriorAuthCase, actor, letter: str) -> Document:
    """Record that staff filed an appeal with this letter; returns the stored letter."""
    letter = (letter or "").strip()
    if not letter:
        raise ActionRefused("The appeal needs its letter.")
    if len(letter) > LETTER_MAX_CHARS:
        raise ActionRefused(f"The letter is longer than {LETTER_MAX_CHARS} characters.")
    case.refresh_from_db()
    if case.status not in APPEALABLE:
        raise ActionRefused("Only a denied or partially approved case can be appealed.")
    with transaction.atomic():
        event = transition(
            case,
            Status.APPEALED,
            actor=actor,
            reason=f"Appeal filed with {case.payer or 'the payer'}",
        )
        document = document_store(
            case=case,
            actor=actor,
            kind=Document.Kind.APPEAL_LETTER,
            title=f"Appeal letter, {timezone.localdate():%m/%d/%Y}",
            content=letter.encode("utf-8"),
            content_type="text/plain",
            name="appeal.txt",
            message="Appeal letter kept as sent",
            status_event_id=event.pk,
        )
        tasks_close(case=case, actor=actor, kinds=[Task.Kind.WORK_DENIAL])
        task_create(
            case=case,
            kind=Task.Kind.RECORD_OUTCOME,
            title=f"Record {case.payer or 'the payer'}'s appeal decision",
            detail="Send the letter by the payer's portal or fax if not done yet, then record the decision.",
            assignee=case.assignee or actor,
            due_at=case.decision_due_at,
            actor=actor,
            dedupe_key=f"appeal:{event.pk}",
        )
    return document
