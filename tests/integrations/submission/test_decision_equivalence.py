"""A case behaves the same whichever way the payer's answer arrived.

Each decision kind goes through every source — the answer to a submission,
a status check (poll), a payer notification, and a coordinator recording it
by hand from the phone or a fax — and must leave the same open tasks (kind,
who, title, details, due time), the same timeline after the decision, the
same EHR write-back and the same patient text.
"""

import zoneinfo
from datetime import UTC, date, datetime, timedelta

import pytest

from cases import actions
from cases.decisions import decision_apply
from cases.models import CaseEvent, Task
from integrations.base import DecisionStatus, PayerDecision
from integrations.ehr_fhir.models import WriteBack
from integrations.sms_twilio.models import OutboundMessage
from integrations.submission.polling import case_poll
from integrations.submission.services import submission_request, submission_send
from tests.integrations.submission.conftest import ready_case

NOW = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)

# What the payer said, as a channel would parse it and as a coordinator types it into the form.
ANSWERS = {
    "approved": {
        "decision": dict(
            authorization_number="AUTH-1",
            effective_start=date(2026, 12, 1),
            effective_end=date(2027, 2, 28),
            units_approved=12.0,
        ),
        "form": dict(
            authorization_number="AUTH-1",
            effective_start=date(2026, 12, 1),
            effective_end=date(2027, 2, 28),
            units_approved=12,
        ),
    },
    "partially_approved": {
        "decision": dict(
            authorization_number="AUTH-2",
            effective_start=date(2026, 12, 1),
            units_approved=6.0,
            reason_code="N386",
            reason_text="Six of twelve visits certified",
        ),
        "form": dict(
            authorization_number="AUTH-2",
            effective_start=date(2026, 12, 1),
            units_approved=6,
            denial_reason_code="N386",
            denial_reason_text="Six of twelve visits certified",
        ),
    },
    "pended": {
        "decision": dict(info_requested=("Physical therapy notes for the last 6 weeks",)),
        "form": dict(note="Physical therapy notes for the last 6 weeks"),
    },
    "denied": {
        "decision": dict(reason_code="CO-50", reason_text="Not medically necessary: no trial of conservative therapy"),
        "form": dict(
            denial_reason_code="CO-50", denial_reason_text="Not medically necessary: no trial of conservative therapy"
        ),
    },
    # Denied without a reason code: the specificity check must fire for every source.
    "denied_unspecific": {
        "decision": dict(reason_text="Denied"),
        "form": dict(denial_reason_text="Denied"),
    },
}
SOURCES = ["submit", "poll", "notification", "manual"]


def _decision(kind: str) -> PayerDecision:
    status = "denied" if kind.startswith("denied") else kind
    return PayerDecision(status=DecisionStatus(status), decided_at=NOW, **ANSWERS[kind]["decision"])


def _run(source: str, kind: str, practice, provider, coordinator, scripted):
    """Bring one case to its decision through `source`; returns the case and its decision event."""
    if source == "manual":
        case = ready_case(practice, provider, channel="portal", name=f"Payer {source} {kind}")
        case.practice.submission_requires_approval = False
        case.practice.save()
        actions.case_submit(case=case, actor=coordinator)  # the coordinator sends it by portal …
        outcome = "denied" if kind.startswith("denied") else kind
        actions.case_record_outcome(
            case=case, actor=coordinator, outcome=outcome, **ANSWERS[kind]["form"]
        )  # … and types
    else:
        case = ready_case(practice, provider, channel="scripted", name=f"Payer {source} {kind}")
        if source == "submit":
            scripted.script[case.pk] = {"receipt": _decision(kind)}
        submission = submission_request(case=case, actor=coordinator)
        submission_send(submission_id=submission.pk)
        if source == "poll":
            scripted.script[case.pk] = {"status": _decision(kind)}
            assert case_poll(case_id=case.pk) == _decision(kind).status
        elif source == "notification":
            # A payer's push is applied by the same function, whatever channel brought it.
            decision_apply(case=case, decision=_decision(kind), source="notification")
    case.refresh_from_db()
    event = case.events.filter(kind=CaseEvent.Kind.STATUS).order_by("-id").first()
    return case, event


def _what_followed(case, event):
    open_tasks = sorted(
        (t.kind, t.role, t.assignee_id, t.title, t.detail, t.due_at)
        for t in Task.objects.filter(case=case, done_at__isnull=True)
    )
    # The status line's own wording says who brought it; a packet kept "as sent" belongs to the sending
    # by hand (stored once the answer is saved), not to the decision.
    timeline = [
        (e.kind, e.to_status, "" if e.kind == CaseEvent.Kind.STATUS else e.message)
        for e in case.events.filter(id__gte=event.id).exclude(kind=CaseEvent.Kind.DOCUMENT).order_by("id")
    ]
    fields = (
        case.status,
        case.authorization_number,
        case.auth_effective_start,
        case.auth_effective_end,
        case.units_approved,
        case.denial_reason_code,
        case.denial_reason_text,
        case.appeal_deadline,
    )
    return {
        "tasks": open_tasks,
        "timeline": timeline,
        "fields": fields,
        "writebacks": WriteBack.objects.filter(case=case).count(),
        "texts": sorted(OutboundMessage.objects.filter(case=case).values_list("template_kind", flat=True)),
    }


@pytest.mark.parametrize("kind", list(ANSWERS))
def test_every_source_leaves_the_same_tasks_timeline_writeback_and_text(
    kind, time_machine, practice, owner_provider, owner_clinician, coordinator, scripted
):
    time_machine.move_to(NOW, tick=False)
    results = {}
    for source in SOURCES:
        case, event = _run(source, kind, practice, owner_provider, coordinator, scripted)
        assert event.details.get("source") == source, source
        results[source] = _what_followed(case, event)
    reference = results["poll"]
    # The decision did something a person must act on (nothing vacuous is being compared).
    assert reference["tasks"]
    # The chart shows where the request stands: "submitted", then the answer (a pend too).
    assert reference["writebacks"] == 2
    for source in SOURCES:
        assert results[source] == reference, f"{source} differs from poll for {kind}"


def test_the_branch_is_what_the_decision_kind_requires(
    time_machine, practice, owner_provider, owner_clinician, coordinator, scripted
):
    """The shared result is the right one (recorded by hand): approval → scheduling; denial → appeal
    work, peer-to-peer and, when unspecific, the managers' specificity task; pend → the clinician."""
    time_machine.move_to(NOW, tick=False)
    kinds = {}
    for kind in ANSWERS:
        case, _ = _run("manual", kind, practice, owner_provider, coordinator, scripted)
        kinds[kind] = {(t.kind, t.role or "assignee") for t in Task.objects.filter(case=case, done_at__isnull=True)}
    assert kinds["approved"] == {(Task.Kind.RESCHEDULE, "front_desk")}
    assert kinds["partially_approved"] == {(Task.Kind.RESCHEDULE, "front_desk"), (Task.Kind.WORK_DENIAL, "coordinator")}
    assert kinds["pended"] == {(Task.Kind.ANSWER_INFO_REQUEST, "assignee")}
    assert kinds["denied"] == {(Task.Kind.WORK_DENIAL, "coordinator"), (Task.Kind.PEER_TO_PEER, "assignee")}
    assert kinds["denied_unspecific"] == kinds["denied"] | {(Task.Kind.ESCALATION, "manager")}
    # The denial's work is due at the end of the practice's day on the appeal deadline.
    # (`case` is the last one run: denied_unspecific)
    work = Task.objects.get(case=case, kind=Task.Kind.WORK_DENIAL)
    assert case.appeal_deadline == NOW.date() + timedelta(days=case.payer.appeal_window_days)
    local = work.due_at.astimezone(zoneinfo.ZoneInfo(case.practice.time_zone))
    assert (local.date(), local.hour) == (case.appeal_deadline, 17)
