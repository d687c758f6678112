from datetime import date

from django.db import models
from django.db.models import Q


class PayerRuleQuerySet(models.QuerySet):
    def effective_on(self, day: date):
        return self.filter(effective_from__lte=day).filter(Q(effective_to__isnull=True) | Q(effective_to__gte=day))

    def for_payer_plan(self, payer, plan=None):
        """Rules of the payer that apply to `plan`: its own and the payer-wide ones."""
        scope = Q(plan__isnull=True)
        if plan is not None:
            scope |= Q(plan=plan)
        return self.filter(payer=payer).filter(scope)
