"""Reads of cases and tasks. Querysets select; they never write."""

from django.db import models
from django.db.models import Q


def _open_statuses():
    from cases.models import OPEN_STATUSES

    return OPEN_STATUSES


class CaseQuerySet(models.QuerySet):
    def visible_to(self, user):
        """The one way a view gets cases: what this user may see.

        Managers, coordinators and front desk see their practice; clinicians
        see the cases of their own provider and of providers who named them
        as a delegate; anyone else (or another practice's user) sees none.
        """
        if not getattr(user, "is_authenticated", False) or not user.practice_id:
            return self.none()
        in_practice = self.filter(practice_id=user.practice_id)
        if user.has_role("manager", "coordinator", "front_desk", "admin"):
            return in_practice
        if user.has_role("clinician"):
            own = Q(order__ordering_provider__user=user) | Q(order__ordering_provider__delegates=user)
            return in_practice.filter(own).distinct()
        return self.none()

    def open(self):
        return self.filter(status__in=_open_statuses())

    def closed(self):
        return self.exclude(status__in=_open_statuses())

    def assigned_to(self, user):
        return self.filter(assignee=user)

    def unassigned(self):
        return self.filter(assignee__isnull=True)

    def overdue(self, now):
        # Only while the payer owes the answer: a decided (e.g. denied, still
        # open) or sent-back case keeps its old deadline but is not late.
        return self.awaiting_payer().filter(decision_due_at__lt=now)

    def awaiting_payer(self):
        return self.filter(status__in=["submitted", "pended", "appealed"])

    def needs_clinician(self):
        return self.filter(status="needs_clinician")

    def due_for_poll(self, now):
        return self.filter(next_poll_at__lte=now).awaiting_payer()

    def with_related(self):
        return self.select_related(
            "patient", "order", "order__ordering_provider", "payer", "plan", "assignee", "order__location"
        )


class TaskQuerySet(models.QuerySet):
    def open(self):
        return self.filter(done_at__isnull=True)

    def for_user(self, user):
        """Tasks assigned to the user or to one of their roles, in their practice."""
        roles = list(user.role_names())
        return self.filter(case__practice_id=user.practice_id).filter(
            Q(assignee=user) | Q(assignee__isnull=True, role__in=roles)
        )
