from __future__ import annotations

import time
from typing import TYPE_CHECKING

import pytest

from app.core.billing.aggregates import DAY_S, range_for, summarize, utc_offset_s
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
    today = now - (now + utc_offset_s(now)) % DAY_S + 3600  # 01:00 local today
    # Written in this order: today, then (clock jumped back) two days ago, then yesterday.
    for created in (today, today - 2 * DAY_S, today - DAY_S, today + 60):
        ledger.record(result(), conversation_id=None, message_id=None, created_at=created)
    conn = read_connection(db)
    summary = summarize(conn, *range_for("7 days", now), now)
    conn.close()
    days = [(d.day, d.requests) for d in summary.days]
    first = days[0][0]
    assert days == [(first, 1), (first + 1, 1), (first + 2, 2)]
    assert summary.requests == 4


def test_totals_split_by_currency_and_count_the_local_saving(ledger: Ledger, db: Database) -> None:
    now = time.time()
    ledger.record(result(), conversation_id=None, message_id=None, created_at=now)
    ledger.record(result(backend="local", prompt=1_000_000, completion=0),
                  conversation_id=None, message_id=None, created_at=now)  # fmt: skip
    ledger.prices.set("scaleway", "m", 1.0, 1.0, currency="EUR")
    ledger.record(result(provider="scaleway", backend="scaleway", model="m"),
                  conversation_id=None, message_id=None, created_at=now)  # fmt: skip
    ledger.record(result(provider="acme", backend="acme", model="?"),
                  conversation_id=None, message_id=None, created_at=now, project="p1")  # fmt: skip
    conn = read_connection(db)
    summary = summarize(conn, *range_for("30 days", now), now)
    conn.close()
    today = {t.currency: t for t in summary.totals if t.label == "today"}
    assert set(today) == {"USD", "EUR", None}
    assert today["USD"].requests == 2
    assert today["USD"].saving == pytest.approx(0.10 - (today["USD"].cost - 0.00025), abs=1e-3)
    assert summary.unpriced == 1
    assert summary.currencies() == ["EUR", "USD"]
    assert {p.key for p in summary.projects} == {"", "p1"}
    assert {b.key for b in summary.backends} == {"mistral", "local", "scaleway", "acme"}
