"""The requests table: a QAbstractTableModel over billing's paged rows, so a million rows
stay usable.

Only the row count is known up front; billing (`app.core.billing.requests`) reads
rows a page at a time when the view asks for them, on the "db" lane (sorting a year
of rows by cost takes longer than a frame), and they are shown when the page arrives.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, Signal

from app.core.billing.requests import PAGE
from app.ui.billing.format import energy, local_time, money
from app.ui.locale_format import number
from app.ui.safe_text import plain_tip
from app.workers import FunctionJob

if TYPE_CHECKING:
    import threading

    from app.core.billing.columns import UsageRow
    from app.core.billing.requests import RequestsQuery, RequestsTable
    from app.workers import WorkerPool
    from app.workers.jobs import ProgressFn

MAX_PAGES = 32
# (header, the key billing sorts by: a ledger column or one it computes).
COLUMNS: tuple[tuple[str, str], ...] = (
    ("Time", "created_at"),
    ("Conversation", "conversation_id"),
    ("Project", "project"),
    ("Backend", "backend"),
    ("Provider", "provider"),
    ("Model", "model"),
    ("Tokens", "tokens"),
    ("Token source", "token_source"),
    ("Latency (s)", "ttft_s"),
    ("Tokens/s", "tokens_per_second"),
    ("Energy", "energy_wh"),
    ("Cost", "cost"),
    ("Outcome", "outcome"),
    ("Client", "client"),  # the gateway client that sent it
    ("Why this target", "route"),  # for `auto`: why it went where it did
)
_RIGHT = {1, 6, 8, 9, 10, 11}

@dataclass(frozen=True, slots=True)
class Page:
    generation: int
    number: int
    rows: tuple[UsageRow, ...]


class RequestsModel(QAbstractTableModel):
    """Signals:
    page_loaded(int): a page of rows arrived and is shown
    """

    page_loaded = Signal(int)

    def __init__(self, table: RequestsTable, pool: WorkerPool, parent: Any = None) -> None:
        super().__init__(parent)
        self._table = table
        self._pool = pool
        self._query: RequestsQuery | None = None
        self._count = 0
        self._pages: dict[int, tuple[UsageRow, ...]] = {}
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

    def row(self, row: int) -> UsageRow | None:
        if not 0 <= row < self._count:
            return None
        page = self._page(row // PAGE)
        index = row % PAGE
        return page[index] if page is not None and index < len(page) else None

    def conversation_id(self, row: int) -> int | None:
        values = self.row(row)
        return None if values is None else values.conversation_id

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
        if role == Qt.ItemDataRole.DisplayRole:
            return self._cell(values, index.column(), False)
        # Model, client and project names come from providers and gateway callers: a tool
        # tip renders anything that looks like HTML (images included).
        return plain_tip(self._cell(values, index.column(), True))

    @staticmethod
    def _cell(r: UsageRow, column: int, tooltip: bool) -> str:
        match column:
            case 0:
                return local_time(r.created_at)
            case 1:
                return "" if r.conversation_id is None else f"#{r.conversation_id}"
            case 2:
                return r.project or ""
            case 3:
                return str(r.backend)
            case 4:
                return str(r.provider)
            case 5:
                return str(r.model)
            case 6:
                prompt, completion = r.prompt_tokens, r.completion_tokens
                total = f"{number(prompt + completion)}"
                return f"{number(prompt)} in · {number(completion)} out" if tooltip else total
            case 7:
                return str(r.token_source)
            case 8:
                return "" if r.ttft_s is None else f"{r.ttft_s:.2f}"
            case 9:
                tps = r.tokens_per_second
                return "" if tps is None else f"{tps:.1f}"
            case 10:
                return energy(r.energy_wh, r.cost_source)
            case 11:
                if not tooltip:
                    return money(r.cost, r.currency)
                where = f"; price from {r.price_source}, {r.price_date}" if r.price_source else ""
                return f"{money(r.cost, r.currency)} ({r.cost_source}{where})"
            case 12:
                return str(r.outcome)
            case 13:
                return r.client or ""
            case _:
                return r.route or ""

    def _page(self, number: int) -> tuple[UsageRow, ...] | None:
        """The page if loaded; otherwise ask the db lane for it and return None."""
        if number in self._pages:
            return self._pages[number]
        if self._query is None or number in self._pending:
            return None
        self._pending.add(number)
        table, query, generation = self._table, self._query, self._generation
        sort, descending = COLUMNS[self._sort_column][1], self._descending

        def work(_cancel: threading.Event, _progress: ProgressFn) -> Page:
            rows = table.page(query, number, sort=sort, descending=descending, size=PAGE)
            return Page(generation, number, rows)

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
