"""The requests table: a QAbstractTableModel over paged SQL, so a million rows stay usable.

Only the row count is known up front; rows are read a page at a time when
the view asks for them, on the "db" lane (sorting a year of rows by cost
takes longer than a frame), and shown when the page arrives.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, Signal

from app.core.billing.readonly import read_connection
from app.ui.billing.format import energy, local_time, money
from app.workers import FunctionJob

if TYPE_CHECKING:
    import threading

    from app.core.foundation.storage import Database
    from app.workers import WorkerPool
    from app.workers.jobs import ProgressFn

PAGE = 256
MAX_PAGES = 32
_TPS = (
    "CASE WHEN duration_s - COALESCE(ttft_s, 0) > 0 AND completion_tokens > 1 "
    "THEN (completion_tokens - 1) / (duration_s - COALESCE(ttft_s, 0)) END"
)
# (header, SQL sort key); the select below returns the fields in this order plus extras.
COLUMNS: tuple[tuple[str, str], ...] = (
    ("Time", "created_at"),
    ("Conversation", "conversation_id"),
    ("Project", "project"),
    ("Backend", "backend"),
    ("Provider", "provider"),
    ("Model", "model"),
    ("Tokens", "prompt_tokens + completion_tokens"),
    ("Token source", "token_source"),
    ("Latency (s)", "ttft_s"),
    ("Tokens/s", _TPS),
    ("Energy", "energy_wh"),
    ("Cost", "cost"),
    ("Outcome", "outcome"),
    ("Client", "client"),  # the gateway client that sent it
    ("Why this target", "route"),  # for `auto`: why it went where it did
)
_SELECT = (
    f"SELECT created_at, conversation_id, project, backend, provider, model, prompt_tokens, "
    f"completion_tokens, token_source, ttft_s, {_TPS}, energy_wh, cost, currency, cost_source, "
    f"outcome, id, price_source, price_date, client, route FROM usage"
)
_FILTER = (
    " AND (provider LIKE :text OR model LIKE :text OR backend LIKE :text "
    "OR project LIKE :text OR outcome LIKE :text OR cost_source LIKE :text)"
)
_RIGHT = {1, 6, 8, 9, 10, 11}


@dataclass(frozen=True, slots=True)
class Page:
    generation: int
    number: int
    rows: tuple[tuple[Any, ...], ...]


@dataclass(frozen=True, slots=True)
class RequestsQuery:
    start: float
    end: float
    text: str = ""

    def where(self) -> tuple[str, dict[str, Any]]:
        sql = " WHERE created_at >= :start AND created_at < :end"
        params: dict[str, Any] = {"start": self.start, "end": self.end}
        if self.text.strip():
            sql += _FILTER
            params["text"] = f"%{self.text.strip()}%"
        return sql, params


def count_requests(db: Database, query: RequestsQuery) -> int:
    """The row count for a query; runs on the db lane (it scans the range)."""
    conn = read_connection(db)
    try:
        where, params = query.where()
        return int(conn.execute(f"SELECT COUNT(*) FROM usage{where}", params).fetchone()[0])
    finally:
        conn.close()


class RequestsModel(QAbstractTableModel):
    """Signals:
    page_loaded(int): a page of rows arrived and is shown
    """

    page_loaded = Signal(int)

    def __init__(self, db: Database, pool: WorkerPool, parent: Any = None) -> None:
        super().__init__(parent)
        self._db = db
        self._pool = pool
        self._query: RequestsQuery | None = None
        self._count = 0
        self._pages: dict[int, tuple[tuple[Any, ...], ...]] = {}
        self._pending: set[int] = set()
        self._generation = 0  # pages of an older query or sort are dropped
        self._sort_column = 0
        self._descending = True

    def reset(self, query: RequestsQuery, count: int) -> None:
        self.beginResetModel()
        self._query, self._count = query, count
        self._forget_pages()
        self.endResetModel()

    def _forget_pages(self) -> None:
        self._pages.clear()
        self._pending.clear()
        self._generation += 1

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else self._count

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section][0]
        return None

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        self.beginResetModel()
        self._sort_column = column
        self._descending = order == Qt.SortOrder.DescendingOrder
        self._forget_pages()
        self.endResetModel()

    def row(self, row: int) -> tuple[Any, ...] | None:
        if not 0 <= row < self._count:
            return None
        page = self._page(row // PAGE)
        index = row % PAGE
        return page[index] if page is not None and index < len(page) else None

    def conversation_id(self, row: int) -> int | None:
        values = self.row(row)
        return None if values is None or values[1] is None else int(values[1])

    def data(
        self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if not index.isValid():
            return None
        if role == Qt.ItemDataRole.TextAlignmentRole:
            if index.column() in _RIGHT:
                return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            return None
        if role not in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            return None
        values = self.row(index.row())
        if values is None:
            return None
        return self._cell(values, index.column(), role == Qt.ItemDataRole.ToolTipRole)

    @staticmethod
    def _cell(v: tuple[Any, ...], column: int, tooltip: bool) -> str:
        (created, conv, project, backend, provider, model, prompt, completion, source, ttft,
         tps, wh, cost, currency, cost_source, outcome, _id, price_source,
         price_date, client, route) = v  # fmt: skip
        match column:
            case 0:
                return local_time(created)
            case 1:
                return "" if conv is None else f"#{conv}"
            case 2:
                return project or ""
            case 3:
                return str(backend)
            case 4:
                return str(provider)
            case 5:
                return str(model)
            case 6:
                total = f"{prompt + completion:,}"
                return f"{prompt:,} in · {completion:,} out" if tooltip else total
            case 7:
                return str(source)
            case 8:
                return "" if ttft is None else f"{ttft:.2f}"
            case 9:
                return "" if tps is None else f"{tps:.1f}"
            case 10:
                return energy(wh, cost_source)
            case 11:
                if not tooltip:
                    return money(cost, currency)
                where = f"; price from {price_source}, {price_date}" if price_source else ""
                return f"{money(cost, currency)} ({cost_source}{where})"
            case 12:
                return str(outcome)
            case 13:
                return client or ""
            case _:
                return route or ""

    def _page(self, number: int) -> tuple[tuple[Any, ...], ...] | None:
        """The page if loaded; otherwise ask the db lane for it and return None."""
        if number in self._pages:
            return self._pages[number]
        if self._query is None or number in self._pending:
            return None
        self._pending.add(number)
        where, params = self._query.where()
        key = COLUMNS[self._sort_column][1]
        direction = "DESC" if self._descending else "ASC"
        sql = (f"{_SELECT}{where} ORDER BY {key} {direction}, id {direction} "
               f"LIMIT {PAGE} OFFSET {number * PAGE}")  # fmt: skip
        db, generation = self._db, self._generation

        def work(_cancel: threading.Event, _progress: ProgressFn) -> Page:
            conn = read_connection(db)
            try:
                return Page(generation, number, tuple(conn.execute(sql, params).fetchall()))
            finally:
                conn.close()

        job = FunctionJob(work)
        job.finished.connect(self.on_page)
        self._pool.submit(job, "db")
        return None

    def on_page(self, _job_id: int, page: Any) -> None:
        if not isinstance(page, Page) or page.generation != self._generation:
            return
        self._pending.discard(page.number)
        if len(self._pages) >= MAX_PAGES:
            self._pages.pop(next(iter(self._pages)))
        self._pages[page.number] = page.rows
        first = page.number * PAGE
        last = min(self._count, first + len(page.rows)) - 1
        if last >= first:
            self.dataChanged.emit(self.index(first, 0), self.index(last, len(COLUMNS) - 1))
        self.page_loaded.emit(page.number)
