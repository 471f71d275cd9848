"""Everything the Billing tab draws, as a handful of SQL aggregates over one time range.

All grouping happens in SQLite over the `usage_billing` covering index; Python
only reshapes a few hundred result rows. Days are local calendar days
computed from each row's own timestamp, so rows written while the clock ran
backwards still land in the right day (they are never grouped by order).
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from app.core.billing.budgets import period_start

if TYPE_CHECKING:
    import sqlite3

DAY_S = 86_400


@dataclass(frozen=True, slots=True)
class DaySpend:
    day: int  # days since 1970-01-01 in local time
    provider: str
    currency: str | None
    cost: float
    tokens: int
    requests: int


@dataclass(frozen=True, slots=True)
class GroupSpend:
    key: str  # a model, backend or project name ("" for none)
    currency: str | None
    cost: float
    tokens: int
    requests: int
    unpriced: int


@dataclass(frozen=True, slots=True)
class PeriodTotal:
    label: str  # "today" | "this week" | "this month"
    currency: str | None
    cost: float
    saving: float  # comparison cloud price minus local cost, local rows only
    requests: int


@dataclass(frozen=True, slots=True)
class BillingSummary:
    start: float
    end: float
    utc_offset_s: int
    days: tuple[DaySpend, ...]
    models: tuple[GroupSpend, ...]
    backends: tuple[GroupSpend, ...]
    projects: tuple[GroupSpend, ...]
    totals: tuple[PeriodTotal, ...]
    requests: int
    unpriced: int

    @property
    def is_empty(self) -> bool:
        return self.requests == 0

    def currencies(self) -> list[str]:
        seen = {d.currency for d in self.days if d.currency} | {
            t.currency for t in self.totals if t.currency}  # fmt: skip
        return sorted(seen)


def utc_offset_s(now: float) -> int:
    # One offset for the whole range: a DST change shifts at most one hour of one day.
    offset = dt.datetime.fromtimestamp(now).astimezone().utcoffset()
    return int(offset.total_seconds()) if offset else 0


def day_start_ts(day: int, offset_s: int) -> float:
    return float(day * DAY_S - offset_s)


def summarize(conn: sqlite3.Connection, start: float, end: float, now: float) -> BillingSummary:
    """The Billing tab's data for [start, end), plus today / week / month totals at `now`.

    One scan of the covering index groups by every dimension the charts split
    on; Python then folds the few thousand groups (not the rows) per chart.
    """
    offset = utc_offset_s(now)
    groups = conn.execute(
        "SELECT CAST((created_at + ?) / 86400 AS INTEGER) AS day, provider, model, backend, "
        "COALESCE(project, ''), currency, COALESCE(SUM(cost), 0), "
        "SUM(prompt_tokens + completion_tokens), COUNT(*), COUNT(*) - COUNT(cost) "
        "FROM usage INDEXED BY usage_billing WHERE created_at >= ? AND created_at < ? "
        "GROUP BY 1, 2, 3, 4, 5, 6",
        (offset, start, end),
    ).fetchall()
    days: dict[tuple[int, str, str | None], list[float]] = {}
    by: tuple[dict[tuple[str, str | None], list[float]], ...] = ({}, {}, {})
    for day, provider, model, backend, project, currency, cost, tokens, n, unpriced in groups:
        d = days.setdefault((day, provider, currency), [0.0, 0, 0])
        d[0] += cost
        d[1] += tokens
        d[2] += n
        for table, key in zip(by, (model, backend, project), strict=True):
            g = table.setdefault((key, currency), [0.0, 0, 0, 0])
            g[0] += cost
            g[1] += tokens
            g[2] += n
            g[3] += unpriced
    models, backends, projects = (
        tuple(sorted((GroupSpend(k, c, v[0], int(v[1]), int(v[2]), int(v[3]))
                      for (k, c), v in table.items()), key=lambda g: -g.cost))
        for table in by
    )  # fmt: skip
    return BillingSummary(
        start=start,
        end=end,
        utc_offset_s=offset,
        days=tuple(
            DaySpend(day, prov, cur, v[0], int(v[1]), int(v[2]))
            for (day, prov, cur), v in sorted(days.items(), key=lambda kv: (kv[0][0], kv[0][1]))
        ),
        models=models,
        backends=backends,
        projects=projects,
        totals=tuple(period_totals(conn, now)),
        requests=sum(g.requests for g in backends),
        unpriced=sum(g.unpriced for g in backends),
    )


def period_totals(conn: sqlite3.Connection, now: float) -> list[PeriodTotal]:
    today = period_start("day", now)
    local_now = dt.datetime.fromtimestamp(now).astimezone()
    week = today - local_now.weekday() * DAY_S  # Monday
    month = period_start("month", now)
    first = min(week, month)
    rows = conn.execute(
        "SELECT currency, "
        "SUM(CASE WHEN created_at >= :today THEN cost END), "
        "SUM(CASE WHEN created_at >= :week THEN cost END), "
        "SUM(CASE WHEN created_at >= :month THEN cost END), "
        "SUM(CASE WHEN created_at >= :today AND backend = 'local' THEN compare_cost - cost END), "
        "SUM(CASE WHEN created_at >= :week AND backend = 'local' THEN compare_cost - cost END), "
        "SUM(CASE WHEN created_at >= :month AND backend = 'local' THEN compare_cost - cost END), "
        "COUNT(CASE WHEN created_at >= :today THEN 1 END), "
        "COUNT(CASE WHEN created_at >= :week THEN 1 END), "
        "COUNT(CASE WHEN created_at >= :month THEN 1 END) "
        "FROM usage INDEXED BY usage_billing WHERE created_at >= :first GROUP BY currency",
        {"today": today, "week": week, "month": month, "first": first},
    ).fetchall()
    out: list[PeriodTotal] = []
    for i, label in enumerate(("today", "this week", "this month")):
        for r in rows:
            if r[7 + i]:
                out.append(PeriodTotal(label, r[0], r[1 + i] or 0.0, r[4 + i] or 0.0, r[7 + i]))
    return out


def range_for(preset: str, now: float | None = None) -> tuple[float, float]:
    """[start, end) for "7 days", "30 days" or "12 months", ending after today."""
    now = time.time() if now is None else now
    end = period_start("day", now) + DAY_S
    match preset:
        case "7 days":
            return end - 7 * DAY_S, end
        case "30 days":
            return end - 30 * DAY_S, end
        case "12 months":
            return end - 365 * DAY_S, end
        case _:
            raise ValueError(f"unknown range {preset!r}")
