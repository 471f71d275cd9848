"""One read of everything the Billing tab shows for a range: what its worker job runs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from app.core.billing.aggregates import BillingSummary, summarize
from app.core.billing.budgets import BudgetBook, BudgetStatus
from app.core.billing.readonly import read_connection

if TYPE_CHECKING:
    from app.core.foundation.storage import Database


@dataclass(frozen=True, slots=True)
class BillingSnapshot:
    summary: BillingSummary
    budgets: tuple[BudgetStatus, ...]


def load_snapshot(db: Database, start: float, end: float, now: float) -> BillingSnapshot:
    conn = read_connection(db)
    try:
        summary = summarize(conn, start, end, now)
    finally:
        conn.close()
    return BillingSnapshot(summary, tuple(BudgetBook(db).statuses(now)))
