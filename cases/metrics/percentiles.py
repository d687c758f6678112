"""Percentiles as aggregate queries, portable between PostgreSQL and SQLite.

PostgreSQL computes `percentile_cont` in the database. SQLite has no ordered-set
aggregates; there (the laptop default) the values are read and interpolated in
Python the same way, which is fine at demo sizes.
"""

from __future__ import annotations

import math
from datetime import timedelta

from django.db import connection
from django.db.models import Aggregate, DurationField, FloatField


class PercentileCont(Aggregate):
    """`percentile_cont(p) WITHIN GROUP (ORDER BY expr)` (PostgreSQL only)."""

    function = "PERCENTILE_CONT"
    name = "PercentileCont"
    template = "%(function)s(%(percentile)s) WITHIN GROUP (ORDER BY %(expressions)s)"
    allow_distinct = False

    def __init__(self, expression, percentile: float, **extra):
        if not 0 <= percentile <= 1:
            raise ValueError("percentile must be within 0..1")
        super().__init__(expression, percentile=float(percentile), **extra)


def interpolate(values: list, p: float):
    """percentile_cont over a list: linear interpolation between the closest ranks."""
    if not values:
        return None
    ordered = sorted(values)
    rank = p * (len(ordered) - 1)
    low, high = math.floor(rank), math.ceil(rank)
    if low == high:
        return ordered[low]
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def use_database_percentiles() -> bool:
    return connection.vendor == "postgresql"


def percentiles(queryset, expression, ps: tuple[float, ...], *, duration: bool = False) -> dict[float, object]:
    """{p: value} of `expression` over `queryset`, one query."""
    output = DurationField() if duration else FloatField()
    if use_database_percentiles():
        row = queryset.aggregate(
            **{f"p{i}": PercentileCont(expression, p, output_field=output) for i, p in enumerate(ps)}
        )
        return {p: row[f"p{i}"] for i, p in enumerate(ps)}
    values = [v for v in queryset.annotate(_v=expression).values_list("_v", flat=True) if v is not None]
    if duration:
        values = [v if isinstance(v, timedelta) else timedelta(microseconds=v) for v in values]
    return {p: interpolate(values, p) for p in ps}


def grouped_percentiles(queryset, group_by: list[str], expression, p: float, *, duration: bool = False) -> dict:
    """{group values tuple: (percentile, count)} for each group, one query."""
    from django.db.models import Count

    output = DurationField() if duration else FloatField()
    if use_database_percentiles():
        rows = (
            queryset.order_by()
            .values(*group_by)
            .annotate(_p=PercentileCont(expression, p, output_field=output), _n=Count("pk"))
        )
        return {tuple(r[g] for g in group_by): (r["_p"], r["_n"]) for r in rows}
    buckets: dict[tuple, list] = {}
    for row in queryset.order_by().annotate(_v=expression).values(*group_by, "_v"):
        if row["_v"] is None:
            continue
        value = row["_v"]
        if duration and not isinstance(value, timedelta):
            value = timedelta(microseconds=value)
        buckets.setdefault(tuple(row[g] for g in group_by), []).append(value)
    return {key: (interpolate(vals, p), len(vals)) for key, vals in buckets.items()}
