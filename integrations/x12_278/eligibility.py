"""Eligibility (270/271, 005010X279A1) through the payer's clearinghouse, before the packet is built.

Asked when a case opens on a payer with an X12 route, again just before a 278
is sent when the last answer is more than a day old, and whenever staff press
"Check eligibility" on the case page. The answer is stored as an
`EligibilityCheck`; an inactive or unknown member, a different plan or a
rejection becomes a coverage gap task with the payer's words, and active
coverage closes that task.
"""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from cases.models import CaseEvent, Role, Task
from cases.services import case_event_add, task_create
from integrations.base import IntegrationError
from integrations.x12_278 import request as x12req
from integrations.x12_278.exchange import exchange_call, interchange_for
from integrations.x12_278.models import EligibilityCheck, Interchange, PayerRoute
from integrations.x12_278.parse import parse_271

STALE_AFTER = timedelta(days=1)
GAP_KEY = "eligibility-gap"


def eligibility_check(*, case, route: PayerRoute | None = None, actor=None) -> EligibilityCheck | None:
    """Ask the payer whether the case's member is covered on the service date; store and act on the answer.

    Returns None when the payer has no X12 route (nothing to ask). Never raises
    for the payer's or the transport's failure: that is recorded on the check.
    """
    route = route or PayerRoute.objects.select_related("clearinghouse", "payer").filter(payer_id=case.payer_id).first()
    if route is None or not route.clearinghouse.active:
        return None
    check = EligibilityCheck.objects.create(case=case, requested_by=actor)
    key = f"elig-{check.pk}"
    try:
        ix = interchange_for(
            case,
            route,
            kind=Interchange.Kind.ELIGIBILITY,
            key=key,
            body_for=lambda p: x12req.eligibility_segments(case, trace=key, parties=p),
        )
        text, _ = exchange_call(case, route, ix, "inquire", key)
        answer = parse_271(text)
    except IntegrationError as exc:
        check.result = EligibilityCheck.Result.ERROR
        check.payer_words = str(exc)[:2000]
        check.checked_at = timezone.now()
        check.save(update_fields=["result", "payer_words", "checked_at"])
        case_event_add(case=case, kind=CaseEvent.Kind.PAYER, message=f"Eligibility check failed: {exc}"[:300])
        return check
    result = answer.result
    plan = case.plan.name if case.plan_id else ""
    if result == "active" and plan and answer.plan_name and _norm(plan) not in _norm(answer.plan_name):
        result = EligibilityCheck.Result.WRONG_PLAN
    check.result = result
    check.plan_name = answer.plan_name
    check.group_number = answer.group_number
    check.coverage_start = answer.coverage_start
    check.coverage_end = answer.coverage_end
    check.payer_words = answer.payer_words
    check.checked_at = timezone.now()
    check.save()
    _act_on(case, check, expected_plan=plan)
    return check


def eligibility_check_if_stale(*, case, route: PayerRoute) -> EligibilityCheck | None:
    if not route.eligibility:
        return None
    last = case.eligibility_checks.exclude(result=EligibilityCheck.Result.PENDING).first()
    if last is not None and last.checked_at and last.checked_at > timezone.now() - STALE_AFTER:
        return last
    return eligibility_check(case=case, route=route)


def _norm(text: str) -> str:
    return "".join(ch for ch in text.lower() if ch.isalnum())


def _act_on(case, check: EligibilityCheck, *, expected_plan: str) -> None:
    R = EligibilityCheck.Result
    if check.result == R.ACTIVE:
        dates = ""
        if check.coverage_start:
            dates = f" from {check.coverage_start:%b %-d, %Y}" + (
                f" to {check.coverage_end:%b %-d, %Y}" if check.coverage_end else ""
            )
        case_event_add(
            case=case,
            kind=CaseEvent.Kind.PAYER,
            message=f"Eligibility confirmed by {case.payer}: {check.plan_name or 'plan not named'}"
            f"{', group ' + check.group_number if check.group_number else ''}{dates}"[:300],
        )
        # Coverage is confirmed: a gap opened by an earlier answer is closed.
        Task.objects.filter(case=case, dedupe_key__startswith=GAP_KEY, done_at__isnull=True).update(
            done_at=timezone.now()
        )
        return
    what = {
        R.INACTIVE: "Coverage is not active on the service date",
        R.NOT_FOUND: "The payer does not find the member",
        R.WRONG_PLAN: f"The payer reports a different plan ({check.plan_name}, expected {expected_plan})",
        R.REJECTED: "The payer rejected the eligibility inquiry",
    }[check.result]
    words = check.payer_words or "no details given"
    case_event_add(case=case, kind=CaseEvent.Kind.PAYER, message=f"Eligibility: {what}. {words}"[:300])
    # One open coverage gap at a time; a new answer while it is open updates its detail.
    detail = (
        f"{what}. Payer's words: {words}. Check the member id, plan and dates with the patient, then "
        "re-run the eligibility check on the case page."
    )
    open_gap = Task.objects.filter(case=case, dedupe_key__startswith=GAP_KEY, done_at__isnull=True).first()
    if open_gap is not None:
        Task.objects.filter(pk=open_gap.pk).update(title=f"Coverage gap: {what}"[:200], detail=detail)
        return
    task_create(
        case=case,
        kind=Task.Kind.CLOSE_GAP,
        title=f"Coverage gap: {what}"[:200],
        detail=detail,
        assignee=case.assignee,
        role="" if case.assignee_id else Role.COORDINATOR,
        due_at=timezone.now() + timedelta(days=1),
        dedupe_key=f"{GAP_KEY}-{check.pk}",
    )
