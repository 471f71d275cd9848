"""Everything the Billing tab draws, from the daily roll-up over one range of local days.

`usage_daily` holds one row per local calendar day and provider, model,
backend, project and currency, kept in step with the ledger by triggers (see
the storage migration). Each usage row's day is its own local date, DST
included, fixed when it was recorded; a year is a few thousand roll-up rows
whatever the size of the ledger. Amounts are converted into the display
currency per group (a multiplication), at the rates the user set or the
shipped defaults, and the summary says which rates it used.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from app.core.billing.currency import Rates, load_rates

if TYPE_CHECKING:
    import sqlite3

DAY_S = 86_400
EPOCH = dt.date(1970, 1, 1)


@dataclass(frozen=True, slots=True)
class DaySpend:
    day: int  # local calendar day, days since 1970-01-01
    provider: str
    currency: str  # the display currency
    cost: float
    tokens: int
    requests: int


@dataclass(frozen=True, slots=True)
class GroupSpend:
    key: str  # a model, backend or project name ("" for none)
    currency: str
    cost: float
    tokens: int
    requests: int
    unpriced: int


@dataclass(frozen=True, slots=True)
class PeriodTotal:
    label: str  # "today" | "this week" | "this month"
    currency: str
    cost: float
    saving: float  # comparison cloud price minus local cost, local rows only
    requests: int


@dataclass(frozen=True, slots=True)
class BillingSummary:
    start: float
    end: float
    currency: str  # every amount below is in this currency
    days: tuple[DaySpend, ...]
    models: tuple[GroupSpend, ...]
    backends: tuple[GroupSpend, ...]
    projects: tuple[GroupSpend, ...]
    totals: tuple[PeriodTotal, ...]
    requests: int
    unpriced: int
    converted: str = ""  # the rates used, e.g. "1 EUR = 1.17 USD (shipped, 2025-06-30)"
    unconverted: int = 0  # requests in a currency without a rate, left out of the amounts

    @property
    def is_empty(self) -> bool:
        return self.requests == 0

    @property
    def total(self) -> float:
        return sum(g.cost for g in self.backends)


def day_of(ts: float) -> int:
    """The local calendar day of `ts` (DST included), as days since 1970-01-01."""
    return (dt.date.fromtimestamp(ts) - EPOCH).days


def day_start_ts(day: int) -> float:
    """Local midnight at the start of `day` (a 23- or 25-hour day across DST is exact)."""
    date = EPOCH + dt.timedelta(days=day)
    return dt.datetime(date.year, date.month, date.day).timestamp()


class _ConnSettings:
    """Settings read through a read-only connection (the Billing job's own)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def get(self, key: str, default: Any = None) -> Any:
        row = self.conn.execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
        return default if row is None else json.loads(row[0])


def rates_for(conn: sqlite3.Connection) -> Rates:
    return load_rates(_ConnSettings(conn))


def summarize(
    conn: sqlite3.Connection, start: float, end: float, now: float, rates: Rates | None = None
) -> BillingSummary:
    """The Billing tab's data for the local days in [start, end), plus today / week /
    month totals at `now`, all in the display currency."""
    rates = rates or rates_for(conn)
    display = rates.display
    # SQLite groups and converts (a CASE per roll-up row); Python gets a few hundred rows.
    amount = f"SUM(cost * {rates.sql_factor()})"
    where = "WHERE day >= :lo AND day < :hi"
    span = {"lo": day_of(start), "hi": day_of(end)}
    days = conn.execute(
        f"SELECT day, provider, COALESCE({amount}, 0), SUM(tokens), SUM(requests) "
        f"FROM usage_daily {where} GROUP BY day, provider ORDER BY day, provider", span,
    ).fetchall()  # fmt: skip
    # Model, backend and project charts from one small grouping, folded and converted here.
    by: tuple[dict[str, list[float]], ...] = ({}, {}, {})
    seen: set[str] = set()
    unconverted = 0
    for model, backend, project, currency, cost, tokens, n, unpriced in conn.execute(
        f"SELECT model, backend, project, currency, SUM(cost), SUM(tokens), SUM(requests), "
        f"SUM(unpriced) FROM usage_daily {where} GROUP BY 1, 2, 3, 4", span,
    ):  # fmt: skip
        factor = rates.factor(currency or None)
        if currency:
            seen.add(currency)
        if factor is None:
            unconverted += n
        for table, key in zip(by, (model, backend, project), strict=True):
            g = table.setdefault(key, [0.0, 0, 0, 0])
            g[0] += cost * (factor or 0.0)
            g[1] += tokens
            g[2] += n
            g[3] += unpriced
    models, backends, projects = (
        tuple(sorted((GroupSpend(k, display, v[0], int(v[1]), int(v[2]), int(v[3]))
                      for k, v in table.items()), key=lambda g: -g.cost))
        for table in by
    )  # fmt: skip
    totals = period_totals(conn, now, rates)
    return BillingSummary(
        start=start,
        end=end,
        currency=display,
        days=tuple(
            DaySpend(day, prov, display, cost, int(tokens), int(n))
            for day, prov, cost, tokens, n in days
        ),
        models=models,
        backends=backends,
        projects=projects,
        totals=tuple(totals),
        requests=sum(g.requests for g in backends),
        unpriced=sum(g.unpriced for g in backends),
        converted=rates.describe(seen),
        unconverted=unconverted,
    )


def period_totals(conn: sqlite3.Connection, now: float, rates: Rates) -> list[PeriodTotal]:
    today = day_of(now)
    local_now = dt.date.fromtimestamp(now)
    week = today - local_now.weekday()  # Monday
    month = (local_now.replace(day=1) - EPOCH).days
    factor = rates.sql_factor()
    row = conn.execute(
        f"SELECT "
        f"SUM(CASE WHEN day >= :today THEN cost * {factor} END), "
        f"SUM(CASE WHEN day >= :week THEN cost * {factor} END), "
        f"SUM(CASE WHEN day >= :month THEN cost * {factor} END), "
        f"SUM(CASE WHEN day >= :today THEN saving * {factor} END), "
        f"SUM(CASE WHEN day >= :week THEN saving * {factor} END), "
        f"SUM(CASE WHEN day >= :month THEN saving * {factor} END), "
        f"SUM(CASE WHEN day >= :today THEN requests END), "
        f"SUM(CASE WHEN day >= :week THEN requests END), "
        f"SUM(CASE WHEN day >= :month THEN requests END) "
        f"FROM usage_daily WHERE day >= :first AND day <= :today",
        {"today": today, "week": week, "month": month, "first": min(week, month)},
    ).fetchone()
    out: list[PeriodTotal] = []
    for i, label in enumerate(("today", "this week", "this month")):
        if row[6 + i]:
            out.append(PeriodTotal(label, rates.display, row[i] or 0.0, row[3 + i] or 0.0,
                                   int(row[6 + i])))  # fmt: skip
    return out


def range_for(preset: str, now: float | None = None) -> tuple[float, float]:
    """[start, end) local midnights for "7 days", "30 days" or "12 months", ending after
    today (calendar days, so a DST change inside the range moves nothing)."""
    today = dt.date.fromtimestamp(time.time() if now is None else now)
    days = {"7 days": 7, "30 days": 30, "12 months": 365}.get(preset)
    if days is None:
        raise ValueError(f"unknown range {preset!r}")
    end = (today - EPOCH).days + 1
    return day_start_ts(end - days), day_start_ts(end)
