"""Background entry points: ids in, a service call out."""

from __future__ import annotations

from django.db import transaction


def case_opened(sender, instance, created, **kwargs):
    """A new case on a payer with an X12 route: check eligibility after commit, in the background."""
    if not created or not instance.payer_id:
        return
    from integrations.x12_278.models import PayerRoute

    if PayerRoute.objects.filter(payer_id=instance.payer_id, eligibility=True, clearinghouse__active=True).exists():
        case_id = instance.pk
        transaction.on_commit(lambda: enqueue_eligibility(case_id))


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
