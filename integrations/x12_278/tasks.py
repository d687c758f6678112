"""Background entry points: ids in, a service call out."""

from __future__ import annotations


def enqueue_eligibility(case_id: int, user_id: int | None = None) -> None:
    from django_q.tasks import async_task

    async_task("integrations.x12_278.tasks.check_eligibility", case_id, user_id, task_name=f"eligibility-{case_id}")


def check_eligibility(case_id: int, user_id: int | None = None) -> str:
    from cases.models import PriorAuthCase, User
    from integrations.x12_278.eligibility import eligibility_check

    case = PriorAuthCase.objects.select_related("payer", "practice", "patient", "order", "order__coverage").get(
        pk=case_id
    )
    actor = User.objects.filter(pk=user_id).first() if user_id else None
    check = eligibility_check(case=case, actor=actor)
    return check.result if check else "no route"
