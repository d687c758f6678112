"""Every status has a next action for someone, or a named outside party with a clock (issue 16).

Each status is reached the way the application reaches it (detection, the clinician question, the
outcome form, the appeal, transition()) and then asked `cases.readiness.case_next_step`:

- a person's action: the case page shown to that role names it as "Next:", or
- a wait: the outside party is named and its clock is set, or
- finished: only for the statuses nothing further happens in.

A status added to `Status` without a way here fails (`REACH` has no entry), and one without an
answer in `case_next_step` raises.
"""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from cases import actions
from cases.appeals import case_file_appeal
from cases.detection import case_open_for_order
from cases.models import Order, PriorAuthCase, Status, Task
from cases.readiness import case_next_step, case_reconcile
from cases.transitions import transition
from tests import factories as f

FINISHED = {Status.NOT_REQUIRED, Status.CLOSED, Status.CANCELLED, Status.EXPIRED}
# The form the next step's person uses, on the page they are shown: a step named without its button is a dead end
# (the walk of the demo day found "check whether PA is required" and "close the case once it is done" without one).
NEXT_FORM = {
    Status.NEW: "cases:decide_pa",
    Status.RETRO_AUTH: "cases:decide_pa",
    Status.GATHERING: "cases:resolve_gap",
    Status.READY: "cases:approve",
    Status.PENDED: "cases:send_update",
    Status.APPROVED: "cases:schedule",
    Status.PARTIALLY_APPROVED: "cases:close",
    Status.DENIED: "cases:appeal",
}
ROLE_USER = {
    "coordinator": "coordinator",
    "manager": "manager",
    "clinician": "owner_clinician",
    "front_desk": "front_desk",
}


def _order(practice, provider, payer, **fields):
    patient = f.PatientFactory(practice=practice)
    f.CoverageFactory(patient=patient, payer=payer)
    return f.OrderFactory(practice=practice, patient=patient, ordering_provider=provider, **fields)


def _gathering(w):
    rule = f.PayerRuleFactory(payer=w.payer, code="70551")
    f.RequirementFactory(rule=rule, description="Office note within 30 days")
    return case_open_for_order(order=_order(w.practice, w.provider, w.payer, code="70551"))


def _ready(w):
    case = f.gate_met(
        f.CaseFactory(order=_order(w.practice, w.provider, w.payer), payer=w.payer, status=Status.GATHERING)
    )
    # nothing missing and an attested summary: the gate lets it through to ready
    case_reconcile(case=case, actor=w.coordinator)
    return case


def _submitted(w):
    case = _ready(w)
    actions.case_approve_submission(case=case, actor=w.manager)
    transition(case, Status.SUBMITTED, actor=None, reason="Payer receipt")
    return case


def _outcome(outcome, **answer):
    def reach(w):
        case = _submitted(w)
        actions.case_record_outcome(case=case, actor=w.coordinator, outcome=outcome, **answer)
        return case

    return reach


def _appealed(w):
    case = _outcome("denied", denial_reason_text="Not medically necessary")(w)
    case_file_appeal(case=case, actor=w.coordinator, letter="We appeal.")
    return case


def _moved(reach, to, **kw):
    def _reach(w):
        case = reach(w)
        transition(case, to, actor=w.coordinator, reason="test", **kw)
        return case

    return _reach


START = dt.date(2026, 12, 1)
REACH = {
    Status.NEW: lambda w: case_open_for_order(order=_order(w.practice, w.provider, w.payer, code="99999")),
    Status.NOT_REQUIRED: lambda w: case_open_for_order(
        order=_order(w.practice, w.provider, f.PayerRuleFactory(requires_pa="no", code="11111").payer, code="11111")
    ),
    Status.RETRO_AUTH: lambda w: case_open_for_order(
        order=_order(w.practice, w.provider, w.payer, priority=Order.Priority.EMERGENCY)
    ),
    Status.GATHERING: _gathering,
    Status.NEEDS_CLINICIAN: lambda w: (
        actions.case_request_clinician_input(case=_gathering(w), actor=w.coordinator, question="PT dates?").case
    ),
    Status.READY: _ready,
    Status.SUBMITTED: _submitted,
    Status.PENDED: _outcome("pended", note="Send the MRI report"),
    Status.APPROVED: _outcome("approved", authorization_number="A-1", effective_start=START),
    Status.PARTIALLY_APPROVED: _outcome(
        "partially_approved", authorization_number="A-2", effective_start=START, units_approved=2
    ),
    Status.DENIED: _outcome("denied", denial_reason_text="Not medically necessary"),
    Status.APPEALED: _appealed,
    Status.CLOSED: _moved(_outcome("approved", authorization_number="A-3", effective_start=START), Status.CLOSED),
    Status.CANCELLED: lambda w: (
        actions.case_cancel(case=_gathering(w), actor=w.coordinator, reason="Withdrawn") and None
    ),
    Status.EXPIRED: _moved(_outcome("approved", authorization_number="A-4", effective_start=START), Status.EXPIRED),
}


class World:
    def __init__(self, **kw):
        self.__dict__.update(kw)


@pytest.fixture
def world(practice, owner_provider, owner_clinician, coordinator, manager, front_desk):
    return World(
        practice=practice,
        provider=owner_provider,
        payer=f.PayerFactory(name="Acme Health", cms_impacted=True),
        coordinator=coordinator,
        manager=manager,
    )


def test_every_status_has_a_way_here():
    assert set(REACH) == set(Status), "a new status needs a way to reach it here, and an answer in case_next_step"


@pytest.mark.parametrize("status", list(Status), ids=lambda s: s.value)
def test_every_status_has_a_next_action_or_a_named_wait(status, world, client, request):
    case = REACH[status](world)
    if case is None:  # reached by a service that returns something else: the newest case
        case = PriorAuthCase.objects.order_by("-pk").first()
    case.refresh_from_db()
    assert case.status == status
    step = case_next_step(case)
    if status in FINISHED:
        assert step.finished and not step.role and not step.waiting_on
        return
    assert not step.finished, f"{status} is open but says finished"
    if step.waiting_on:
        # waiting on a named outside party, with a clock
        assert step.waiting_on == "Acme Health" and step.until is not None and step.until > timezone.now()
        return
    # a person's action: the case page shown to that role names it as the next step
    assert step.role in ROLE_USER, f"{status}: no one acts"
    client.force_login(request.getfixturevalue(ROLE_USER[step.role]))
    page = client.get(reverse("cases:detail", args=[case.pk])).content.decode()
    assert f"Next: <strong>{escape(step.text)}</strong>" in page
    if status in NEXT_FORM:
        assert f'action="{reverse(NEXT_FORM[status], args=[case.pk])}"' in page, f"{status}: no button for the step"


def test_unknown_status_has_no_silent_answer(case):
    case.status = "limbo"
    with pytest.raises(ValueError):
        case_next_step(case)


def test_a_ready_case_sent_by_hand_names_the_way_on(client, practice, owner_provider, payer, coordinator):
    # given a ready case whose payer is worked by hand: Submit became the coordinator's "Submit to payer" task
    case = f.CaseFactory(order=_order(practice, owner_provider, payer), payer=payer, status=Status.READY)
    f.gate_met(case)
    case.submission_approved_at = timezone.now()  # approved by the manager, then submitted: the task was made
    case.save(update_fields=["submission_approved_at"])
    f.TaskFactory(case=case, kind=Task.Kind.SUBMIT, role="coordinator")
    # when the coordinator opens it
    client.force_login(coordinator)
    page = client.get(reverse("cases:detail", args=[case.pk])).content.decode()
    # then the next step says how to go on, and the action it names is on the page (no Submit button any more)
    assert "Next: <strong>Send the request to the payer by hand, then record it as submitted" in page
    assert "Record payer outcome" in page
    assert "Submit to payer</button>" not in page


@pytest.mark.parametrize("state", ["queued", "sending", "retry"])
def test_a_case_just_submitted_waits_for_the_payer_and_offers_no_second_submit(
    state, client, practice, owner_provider, payer, coordinator
):
    from integrations.submission.models import Submission

    # given a ready case whose request the submission engine has but the payer has not acknowledged yet
    case = f.CaseFactory(order=_order(practice, owner_provider, payer), payer=payer, status=Status.READY)
    f.gate_met(case)
    Submission.objects.create(case=case, channel="pas", idempotency_key=f"k-{case.pk}", state=state)
    # when the coordinator looks at it
    client.force_login(coordinator)
    page = client.get(reverse("cases:detail", args=[case.pk])).content.decode()
    # then it says it is on its way to the payer, and Submit is not offered again
    assert f"Next: <strong>Sending the request to {escape(str(payer))}</strong>" in page
    assert "Submit to payer</button>" not in page


def test_a_ready_case_whose_request_failed_offers_submit_again(client, practice, owner_provider, payer, coordinator):
    from integrations.submission.models import Submission

    # given a ready case whose earlier request failed for good (nothing on its way)
    case = f.CaseFactory(order=_order(practice, owner_provider, payer), payer=payer, status=Status.READY)
    f.gate_met(case)
    case.submission_approved_at = timezone.now()  # approved by the manager before it was sent
    case.save(update_fields=["submission_approved_at"])
    Submission.objects.create(case=case, channel="pas", idempotency_key=f"k-{case.pk}", state="failed")
    client.force_login(coordinator)
    page = client.get(reverse("cases:detail", args=[case.pk])).content.decode()
    # then Submit is the next step and its button is there
    assert "Next: <strong>Submit to payer</strong>" in page
    assert "Submit to payer</button>" in page


def test_a_case_waiting_for_the_clinicians_answer_names_the_clinician_not_the_gap(
    client, practice, owner_provider, payer, coordinator
):
    # given a case with a gap whose question is out with the ordering clinician
    case = f.CaseFactory(order=_order(practice, owner_provider, payer), payer=payer, status=Status.NEEDS_CLINICIAN)
    f.RequirementStatusFactory(case=case, state="gap")
    f.TaskFactory(case=case, kind=Task.Kind.CLINICIAN_INPUT, role="clinician")
    # when anyone reads its next step
    step = case_next_step(case)
    # then it is the clinician's answer, as the status says, not the coordinator's gap
    assert step.role == "clinician" and step.text.startswith("Answer from Dr.")
