"""The live case page: a version stamp of everything the case page shows, read in one query.

The page carries the stamp it was drawn from; its background poll (`cases:live`, every 3 s,
marked `X-Background-Poll: 1`) asks whether the case still has it. Unchanged: 204 and
nothing is drawn. Changed (anyone's action, a payer's answer applied by a background
task, a task closing itself): the whole page's fragments come back and are swapped by id.

What the stamp covers: the case row's moving parts (status and its time, assignee,
approval, attestation, the summary's basis, the next status check) and, per related
table, its newest row or change: timeline, tasks (newest, and how many are open),
requirements (last update), documents. Every write of a service leaves a timeline line,
so the newest event alone catches most changes; the others catch writes made with
`update()` (tasks closed in bulk, a requirement re-read from the EHR).
"""

from __future__ import annotations

import hashlib

from django.db.models import Count, IntegerField, OuterRef, Subquery
from django.db.models.functions import Coalesce

from cases.models import CaseEvent, Document, PriorAuthCase, RequirementStatus, Task

_FIELDS = (
    "status",
    "status_changed_at",
    "assignee_id",
    "submission_approved_at",
    "summary_attested_at",
    "summary_basis",
    "next_poll_at",
    "last_event",
    "last_task",
    "open_tasks",
    "last_requirement",
    "last_document",
)


def _newest(model, field="pk"):
    return Subquery(model.objects.filter(case=OuterRef("pk")).order_by(f"-{field}").values(field)[:1])


def _stamped(qs):
    open_tasks = (
        Task.objects.filter(case=OuterRef("pk"), done_at__isnull=True)
        .order_by()
        .values("case")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return qs.annotate(
        last_event=_newest(CaseEvent),
        last_task=_newest(Task),
        open_tasks=Coalesce(Subquery(open_tasks, output_field=IntegerField()), 0),
        last_requirement=_newest(RequirementStatus, "updated_at"),
        last_document=_newest(Document),
    ).values_list(*_FIELDS)


def _digest(row) -> str:
    return hashlib.sha256(repr(row).encode()).hexdigest()[:20]


def case_version(pk: int) -> str:
    """The stamp of the case as it is now (the page draws it; no visibility check: the caller did it)."""
    row = _stamped(PriorAuthCase.objects.filter(pk=pk)).first()
    return _digest(row) if row else ""


def case_version_for_user(user, pk: int) -> str | None:
    """The stamp, or None when the user may not see the case: one query after the user's roles."""
    row = _stamped(PriorAuthCase.objects.visible_to(user).filter(pk=pk)).first()
    return _digest(row) if row else None
