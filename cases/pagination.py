"""The queue's pages in priority order: keyset (cursor) pages, and a count that may be an estimate.

`?after=<key>.<id>` continues after the last row shown, so page 40 costs what page 1 costs (an index range scan on
`case_queue_priority`) instead of reading and dropping 1 950 rows as OFFSET does. `?page=N` still works (OFFSET)
for old links. There is no "previous" cursor: the page offers the first page, and the browser's Back button.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from django.db import connections

PAGE_SIZE = 50
# Under this many rows (by the planner's estimate) the exact count is cheap enough to take.
ESTIMATE_ABOVE = 5_000


@dataclass
class QueuePage:
    object_list: list
    number: int
    count: int
    estimated: bool
    next_cursor: str = ""
    per_page: int = PAGE_SIZE
    extra: dict = field(default_factory=dict)

    def __iter__(self):
        return iter(self.object_list)

    def __len__(self):
        return len(self.object_list)

    @property
    def has_next(self) -> bool:
        return bool(self.next_cursor)

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def has_other_pages(self) -> bool:
        return self.has_next or self.has_previous

    @property
    def num_pages(self) -> int:
        return max(1, -(-self.count // self.per_page))

    @property
    def start_index(self) -> int:
        return (self.number - 1) * self.per_page + 1 if self.object_list else 0


def _cursor(raw: str) -> tuple[str, int] | None:
    key, _, pk = (raw or "").partition(".")
    if not (key.isdigit() and pk.isdigit()):
        return None
    return key, int(pk)


def _positive(raw, default=1) -> int:
    try:
        return max(1, int(raw))
    except (TypeError, ValueError):
        return default


def estimated_count(qs) -> int | None:
    """The planner's row estimate for this queryset (PostgreSQL), or None where there is no cheap estimate."""
    connection = connections[qs.db]
    if connection.vendor != "postgresql":
        return None
    plan = json.loads(qs.order_by().values("pk").explain(format="json"))
    return int(plan[0]["Plan"]["Plan Rows"])


def queue_page(qs, params, *, estimate: bool = False, per_page: int = PAGE_SIZE) -> QueuePage:
    """One page of `qs` (already in `prioritized()` order) from the request's `after`/`n` or `page`.

    `estimate`: the count may come from the planner (the unfiltered view of a large practice); it is
    then shown as "about N". Filtered views count exactly: their filters make the count cheap.
    """
    count, estimated = None, False
    if estimate:
        guess = estimated_count(qs)
        if guess is not None and guess > ESTIMATE_ABOVE:
            count, estimated = guess, True
    if count is None:
        count = qs.count()
    cursor = _cursor(params.get("after", ""))
    if cursor:
        number = _positive(params.get("n"), 2)
        rows = list(qs.after_priority(*cursor)[: per_page + 1])
    else:
        number = _positive(params.get("page"))
        if (number - 1) * per_page >= count and not estimated:
            number = max(1, -(-count // per_page))
        start = (number - 1) * per_page
        rows = list(qs[start : start + per_page + 1])
    next_cursor = ""
    if len(rows) > per_page:
        rows = rows[:per_page]
        last = rows[-1]
        next_cursor = f"{last.priority_key}.{last.pk}"
    return QueuePage(rows, number, count, estimated, next_cursor, per_page)
