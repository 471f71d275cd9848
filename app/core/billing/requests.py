"""The Billing tab's requests table: one range of the ledger, filtered and sorted, a page
at a time, as typed rows (`UsageRow`). The tab asks; it writes no SQL of its own.

Only the row count is known up front; the view asks for each page as it scrolls, on
the "db" lane (sorting a year of rows by cost takes longer than a frame), through a
read-only connection. A page is found by sorting ids alone, then its rows are read by
id: the sort stays as narrow as the key, however many columns a row has.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from app.core.billing.columns import COLUMN_NAMES, SELECT_LIST, UsageRow
from app.core.billing.readonly import read_connection

if TYPE_CHECKING:
    from app.core.foundation.storage import Database

PAGE = 256
# Same figure as `UsageRow.tokens_per_second`, for sorting in SQL.
_TOKENS_PER_SECOND = (
    "CASE WHEN duration_s - COALESCE(ttft_s, 0) > 0 AND completion_tokens > 1 "
    "THEN (completion_tokens - 1) / (duration_s - COALESCE(ttft_s, 0)) END"
)
# What the table sorts by besides a ledger column.
_COMPUTED = {"tokens": "prompt_tokens + completion_tokens",
             "tokens_per_second": _TOKENS_PER_SECOND}  # fmt: skip
# What the filter box searches.
FILTERED = ("provider", "model", "backend", "project", "outcome", "cost_source")
_FILTER = " AND (" + " OR ".join(f"{c} LIKE :text" for c in FILTERED) + ")"
SORT_KEYS = frozenset(COLUMN_NAMES) | _COMPUTED.keys()


@dataclass(frozen=True, slots=True)
class RequestsQuery:
    """The rows the table shows: created in [start, end), matching `text` if given."""

    start: float
    end: float
    text: str = ""

    def _where(self) -> tuple[str, dict[str, Any]]:
        sql = " WHERE created_at >= :start AND created_at < :end"
        params: dict[str, Any] = {"start": self.start, "end": self.end}
        if self.text.strip():
            sql += _FILTER
            params["text"] = f"%{self.text.strip()}%"
        return sql, params


def _sort_sql(key: str) -> str:
    if key not in SORT_KEYS:
        raise ValueError(f"the requests table can't sort by {key!r}")
    return _COMPUTED.get(key, key)


class RequestsTable:
    """The requests of the ledger in `db`, for the Billing tab; each call opens its own
    read-only connection, so it runs on any thread."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def count(self, query: RequestsQuery) -> int:
        """The row count for a query (it scans the range: run it off the GUI thread)."""
        conn = read_connection(self._db)
        try:
            where, params = query._where()
            return int(conn.execute(f"SELECT COUNT(*) FROM usage{where}", params).fetchone()[0])
        finally:
            conn.close()

    def page(
        self, query: RequestsQuery, number: int, *, sort: str = "created_at",
        descending: bool = True, size: int = PAGE,
    ) -> tuple[UsageRow, ...]:  # fmt: skip
        """Rows [number * size, (number + 1) * size) of the query sorted by `sort` (a key of
        `SORT_KEYS`), ties in id order."""
        key = _sort_sql(sort)
        direction = "DESC" if descending else "ASC"
        where, params = query._where()
        conn = read_connection(self._db)
        try:
            ids = [row[0] for row in conn.execute(
                f"SELECT id FROM usage{where} ORDER BY {key} {direction}, id {direction} "
                f"LIMIT {int(size)} OFFSET {int(number) * int(size)}", params,
            )]  # fmt: skip
            if not ids:
                return ()
            marks = ", ".join("?" * len(ids))
            rows = conn.execute(f"SELECT {SELECT_LIST} FROM usage WHERE id IN ({marks})", ids)
            by_id = {row[0]: UsageRow(*row) for row in rows}
        finally:
            conn.close()
        return tuple(by_id[i] for i in ids if i in by_id)  # a row deleted in between is gone
