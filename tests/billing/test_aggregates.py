from __future__ import annotations

import time
from typing import TYPE_CHECKING

import pytest

from app.core.billing.aggregates import day_start_ts, range_for, summarize
from app.core.billing.currency import set_rate
from app.core.billing.ledger import local_day
from app.core.billing.readonly import read_connection
from tests.billing.conftest import result

if TYPE_CHECKING:
    from app.core.billing.ledger import Ledger
    from app.core.foundation.storage import Database


def test_empty_ledger_is_reported_empty(db: Database) -> None:
    start, end = range_for("30 days")
    conn = read_connection(db)
    summary = summarize(conn, start, end, time.time())
    conn.close()
    assert summary.is_empty
    assert summary.days == () and summary.totals == ()


def test_a_clock_that_moved_backwards_does_not_break_day_grouping(
    ledger: Ledger, db: Database
) -> None:
    now = time.time()
    day = local_day(now)
    today, yesterday, before = (day_start_ts(d) + 3600 for d in (day, day - 1, day - 2))
    # Written in this order: today, then (clock jumped back) two days ago, then yesterday.
    for created in (today, before, yesterday, today + 60):
        ledger.record(result(), conversation_id=None, message_id=None, created_at=created)
    conn = read_connection(db)
    summary = summarize(conn, *range_for("7 days", now), now)
    conn.close()
    days = [(d.day, d.requests) for d in summary.days]
    first = days[0][0]
    assert days == [(first, 1), (first + 1, 1), (first + 2, 2)]
    assert summary.requests == 4


def test_totals_convert_every_currency_into_the_display_one_and_count_the_local_saving(
    ledger: Ledger, db: Database
) -> None:
    """Issue 14: euro rows are converted at the rates in force, never left apart."""
    now = time.time()
    ledger.record(result(), conversation_id=None, message_id=None, created_at=now)
    ledger.record(result(backend="local", prompt=1_000_000, completion=0),
                  conversation_id=None, message_id=None, created_at=now)  # fmt: skip
    ledger.prices.set("scaleway", "m", 1.0, 1.0, currency="EUR")
    ledger.record(result(provider="scaleway", backend="scaleway", model="m"),
                  conversation_id=None, message_id=None, created_at=now)  # fmt: skip
    ledger.record(result(provider="acme", backend="acme", model="?"),
                  conversation_id=None, message_id=None, created_at=now, project="p1")  # fmt: skip
    set_rate(ledger.settings, "EUR", 1.25)
    conn = read_connection(db)
    summary = summarize(conn, *range_for("30 days", now), now)
    conn.close()
    today = {t.label: t for t in summary.totals}["today"]
    assert today.currency == "USD"
    assert today.requests == 4
    local = next(b for b in summary.backends if b.key == "local")
    euro = next(b for b in summary.backends if b.key == "scaleway")
    assert euro.cost == pytest.approx(1500 / 1e6 * 1.25)  # 1,500 tokens at EUR 1/M
    assert today.saving == pytest.approx(0.10 - local.cost, abs=1e-6)
    assert summary.unpriced == 1
    assert "1 EUR = 1.25 USD (yours" in summary.converted
    assert {p.key for p in summary.projects} == {"", "p1"}
    assert {b.key for b in summary.backends} == {"mistral", "local", "scaleway", "acme"}
