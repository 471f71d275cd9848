"""Billing tab: totals, charts, the requests table, budgets, prices and CSV export.

Every aggregate runs in SQL on the "db" lane; the GUI thread only draws.
Nothing is read until the tab is first shown, so it costs nothing at start-up.

Signals:
    conversation_open_requested(int): the user double-clicked a request
    data_loaded(): totals, charts, budgets and the table are drawn for the range
    export_finished(str): a CSV export ended; carries the message shown
    prices_refreshed(str): a Hugging Face price refresh ended; carries the message shown
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QDate, QModelIndex, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDateEdit,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.core.billing.aggregates import day_start_ts, range_for
from app.core.billing.costs import load_local_settings, reprice_unpriced
from app.core.billing.currency import DISPLAY_CURRENCY, set_display_currency
from app.core.billing.export import export_csv
from app.core.billing.hf_prices import HF_ROUTER, refresh_hf_prices
from app.core.billing.prices import KNOWN_CURRENCIES
from app.core.billing.requests import RequestsQuery, RequestsTable
from app.core.billing.snapshot import BillingSnapshot, load_snapshot
from app.ui.billing.budgets_panel import BudgetsPanel
from app.ui.billing.charts import ChartsPanel
from app.ui.billing.format import money
from app.ui.billing.local_panel import LocalCostsPanel
from app.ui.billing.prices_panel import PricesPanel
from app.ui.billing.requests_model import RequestsModel
from app.ui.locale_format import number
from app.workers import FunctionJob

if TYPE_CHECKING:
    import threading

    from PySide6.QtGui import QShowEvent

    from app.core.billing.aggregates import BillingSummary
    from app.core.context import AppContext
    from app.workers import WorkerPool
    from app.workers.jobs import ProgressFn

RANGES = ("7 days", "30 days", "12 months", "Custom")
RANGE_SETTING = "billing.range"
FILTER_DELAY_MS = 250
COLUMN_WIDTHS = (150, 95, 90, 80, 90, 230, 75, 95, 80, 70, 130, 95, 80)


@dataclass(frozen=True, slots=True)
class TabData:
    snapshot: BillingSnapshot
    query: RequestsQuery
    count: int


@dataclass(frozen=True, slots=True)
class CountData:
    query: RequestsQuery
    count: int


class BillingTab(QWidget):
    conversation_open_requested = Signal(int)
    data_loaded = Signal()
    export_finished = Signal(str)
    prices_refreshed = Signal(str)

    def __init__(self, ctx: AppContext, pool: WorkerPool, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.pool = pool
        self._shown = False
        self._job_id = 0
        self._count_job_id = 0
        self._export_job_id = 0
        self._hf_job_id = 0
        self.snapshot: BillingSnapshot | None = None

        self.range = QComboBox()
        self.range.addItems(RANGES)
        saved = ctx.settings.get(RANGE_SETTING, "30 days")
        self.range.setCurrentText(saved if saved in RANGES else "30 days")
        today = QDate.currentDate()
        self.since = QDateEdit(today.addDays(-30))
        self.until = QDateEdit(today)
        for edit in (self.since, self.until):
            edit.setCalendarPopup(True)
            edit.setDisplayFormat("yyyy-MM-dd")
        self.currency = QComboBox()
        self.currency.setObjectName("displayCurrency")
        self.currency.addItems(sorted(KNOWN_CURRENCIES))
        self.currency.setCurrentText(str(ctx.settings.get(DISPLAY_CURRENCY, "USD") or "USD"))
        self.currency.setToolTip("Totals, charts and budgets in this currency, converted at the "
                                 "rates shown (`parley prices rate` sets your own)")  # fmt: skip
        self.refresh_button = QPushButton("Refresh")
        self.export_button = QPushButton("Export CSV…")
        top = QHBoxLayout()
        top.addWidget(QLabel("Range"))
        top.addWidget(self.range)
        top.addWidget(self.since)
        top.addWidget(self.until)
        top.addStretch(1)
        top.addWidget(QLabel("Show in"))
        top.addWidget(self.currency)
        top.addWidget(self.refresh_button)
        top.addWidget(self.export_button)

        self.totals = QLabel("Loading…")
        self.totals.setTextFormat(Qt.TextFormat.RichText)
        self.totals.setWordWrap(True)
        self.status = QLabel()
        self.status.setWordWrap(True)

        self.charts = ChartsPanel()
        self.filter = QLineEdit()
        self.filter.setPlaceholderText("Filter by provider, model, backend, project or outcome")
        self.filter.setClearButtonEnabled(True)
        self.requests = RequestsTable(ctx.db)
        self.model = RequestsModel(self.requests, pool, self)
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(0, Qt.SortOrder.DescendingOrder)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(22)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.table.horizontalHeader().setStretchLastSection(True)
        for column, width in enumerate(COLUMN_WIDTHS):
            self.table.setColumnWidth(column, width)
        requests = QWidget()
        box = QVBoxLayout(requests)
        box.setContentsMargins(0, 0, 0, 0)
        box.addWidget(self.filter)
        box.addWidget(self.table, 1)
        self.budgets = BudgetsPanel(ctx.ledger.budgets)
        self.prices = PricesPanel(ctx.ledger.prices, pool)
        self.sections = QTabWidget()
        self.sections.addTab(self.charts, "Charts")
        self.sections.addTab(requests, "Requests")
        self.sections.addTab(self.budgets, "Budgets")
        self.sections.addTab(self.prices, "Prices")
        self.local_costs = LocalCostsPanel(ctx.settings)
        self.sections.addTab(self.local_costs, "Local costs")

        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.totals)
        layout.addWidget(self.status)
        layout.addWidget(self.sections, 1)

        self._filter_timer = QTimer(self)
        self._filter_timer.setSingleShot(True)
        self._filter_timer.setInterval(FILTER_DELAY_MS)
        self._filter_timer.timeout.connect(self.apply_filter)
        self.filter.textChanged.connect(self.on_filter_edited)
        self.range.currentTextChanged.connect(self.on_range_changed)
        self.since.dateChanged.connect(self.on_custom_dates_changed)
        self.until.dateChanged.connect(self.on_custom_dates_changed)
        self.refresh_button.clicked.connect(self.refresh)
        self.currency.currentTextChanged.connect(self.on_currency_changed)
        self.export_button.clicked.connect(self.choose_export_file)
        self.table.doubleClicked.connect(self.on_double_clicked)
        self.budgets.budgets_changed.connect(self.refresh)
        self.prices.prices_changed.connect(self.on_prices_changed)
        self.local_costs.settings_changed.connect(self.refresh)
        self.prices.refresh_requested.connect(self.refresh_hf_prices)
        self._show_custom(self.range.currentText() == "Custom")

    # -- loading ---------------------------------------------------------------

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if not self._shown:
            self._shown = True
            self.prices.reload()
            self.refresh()

    def refresh(self) -> None:
        """Reload everything for the current range on the db lane (a newer call wins)."""
        if not self._shown:
            return  # nothing to draw yet; the first show loads
        start, end = self.current_range()
        query = RequestsQuery(start, end, self.filter.text())
        db, requests = self.ctx.db, self.requests

        def work(_cancel: threading.Event, _progress: ProgressFn) -> TabData:
            snapshot = load_snapshot(db, start, end, time.time())
            count = (snapshot.summary.requests if not query.text.strip()
                     else requests.count(query))  # fmt: skip
            return TabData(snapshot, query, count)

        job = FunctionJob(work)
        self._job_id = job.job_id
        job.finished.connect(self.on_data)
        job.failed.connect(self.on_failed)
        self.pool.submit(job, "db")
        # Build the plots while the db lane runs the SQL (sqlite3 releases the GIL).
        self.charts.build()

    def current_range(self) -> tuple[float, float]:
        preset = self.range.currentText()
        if preset != "Custom":
            return range_for(preset)
        since, until = self.since.date(), self.until.date()
        first = dt.date(since.year(), since.month(), since.day())
        last = dt.date(until.year(), until.month(), until.day())
        first, last = min(first, last), max(first, last)
        epoch = dt.date(1970, 1, 1)
        # Local midnights by calendar day: a DST change inside the range moves nothing.
        return day_start_ts((first - epoch).days), day_start_ts((last - epoch).days + 1)

    def on_data(self, job_id: int, data: Any) -> None:
        if job_id != self._job_id or not isinstance(data, TabData):
            return  # a newer refresh is on its way
        self.snapshot = data.snapshot
        summary = data.snapshot.summary
        currency = self.main_currency(summary)
        self.totals.setText(self.totals_text(summary, currency))
        self.charts.show_summary(summary, currency)
        self.budgets.show_statuses(data.snapshot.budgets)
        self.model.reset(data.query, data.count)
        self.status.setText("")
        self.data_loaded.emit()

    def on_failed(self, job_id: int, message: str) -> None:
        if job_id in (self._job_id, self._count_job_id):
            self.status.setText(f"Couldn't load the billing data: {message}")

    def main_currency(self, summary: BillingSummary) -> str:
        return summary.currency

    def totals_text(self, summary: BillingSummary, currency: str) -> str:
        by_label = {(t.label, t.currency): t for t in summary.totals}
        parts = []
        for label in ("today", "this week", "this month"):
            total = by_label.get((label, currency))
            parts.append(f"{label.capitalize()} <b>{money(total.cost if total else 0.0, currency)}"
                         f"</b>")  # fmt: skip
        text = " · ".join(parts)
        month = by_label.get(("this month", currency))
        conf = load_local_settings(self.ctx.settings)
        if month and month.saving:
            verb = "saved" if month.saving >= 0 else "cost more"
            text += (f" — local answers {verb} <b>{money(abs(month.saving), currency)}</b> this "
                     f"month vs {conf.compare_model} on {conf.compare_provider}")  # fmt: skip
        return text

    # -- requests table ----------------------------------------------------------

    def on_filter_edited(self, _text: str) -> None:
        self._filter_timer.start()

    def apply_filter(self) -> None:
        if not self._shown:
            return
        start, end = self.current_range()
        query = RequestsQuery(start, end, self.filter.text())
        requests = self.requests

        def work(_cancel: threading.Event, _progress: ProgressFn) -> CountData:
            return CountData(query, requests.count(query))

        job = FunctionJob(work)
        self._count_job_id = job.job_id
        job.finished.connect(self.on_count)
        job.failed.connect(self.on_failed)
        self.pool.submit(job, "db")

    def on_count(self, job_id: int, data: Any) -> None:
        if job_id == self._count_job_id and isinstance(data, CountData):
            self.model.reset(data.query, data.count)

    def on_double_clicked(self, index: QModelIndex) -> None:
        conversation = self.model.conversation_id(index.row())
        if conversation is not None:
            self.conversation_open_requested.emit(conversation)

    # -- range -------------------------------------------------------------------

    def on_range_changed(self, preset: str) -> None:
        self.ctx.settings.set(RANGE_SETTING, preset)
        self._show_custom(preset == "Custom")
        self.refresh()

    def on_custom_dates_changed(self, _date: QDate) -> None:
        if self.range.currentText() == "Custom":
            self.refresh()

    def _show_custom(self, visible: bool) -> None:
        self.since.setVisible(visible)
        self.until.setVisible(visible)

    def on_prices_changed(self, _priced: int) -> None:
        self.refresh()

    def on_currency_changed(self, code: str) -> None:
        set_display_currency(self.ctx.settings, code)
        self.refresh()

    def refresh_hf_prices(self, endpoint: str = HF_ROUTER) -> None:
        """Read the router's prices on the "net" lane (only ever on the user's request)."""
        db, book = self.ctx.db, self.ctx.ledger.prices

        def work(_cancel: threading.Event, _progress: ProgressFn) -> str:
            result = refresh_hf_prices(book, endpoint)
            priced = reprice_unpriced(db, book)
            extra = f" Priced {number(priced)} earlier requests." if priced else ""
            kept = number(result.kept_yours)
            return (f"Updated {number(result.updated)} Hugging Face prices (kept {kept} "
                    f"of yours).{extra}")  # fmt: skip

        job = FunctionJob(work)
        self._hf_job_id = job.job_id
        job.finished.connect(self.on_hf_refreshed)
        job.failed.connect(self.on_hf_failed)
        self.prices.refresh_hf.setEnabled(False)
        self.prices.message.setText("Reading Hugging Face prices…")
        self.pool.submit(job, "net")

    def on_hf_refreshed(self, job_id: int, message: Any) -> None:
        if job_id != self._hf_job_id:
            return
        self.prices.refresh_hf.setEnabled(True)
        self.prices.message.setText(str(message))
        self.prices.reload()
        self.refresh()
        self.prices_refreshed.emit(str(message))

    def on_hf_failed(self, job_id: int, message: str) -> None:
        if job_id != self._hf_job_id:
            return
        self.prices.refresh_hf.setEnabled(True)
        self.prices.message.setText(message)
        self.prices_refreshed.emit(message)

    # -- export ------------------------------------------------------------------

    def choose_export_file(self) -> None:
        suggested = str(Path.home() / f"parley-usage-{time.strftime('%Y-%m-%d')}.csv")
        path, _filter = QFileDialog.getSaveFileName(self, "Export usage as CSV", suggested,
                                                    "CSV files (*.csv)")  # fmt: skip
        if path:
            self.export_to(Path(path))

    def export_to(self, path: Path) -> None:
        """Write the selected range's requests to `path` on the db lane."""
        start, end = self.current_range()
        db = self.ctx.db

        def work(cancel: threading.Event, progress: ProgressFn) -> Any:
            return export_csv(db, path, since=start, until=end, cancel=cancel, progress=progress)

        job = FunctionJob(work)
        self._export_job_id = job.job_id
        job.progress.connect(self.on_export_progress)
        job.finished.connect(self.on_exported)
        job.failed.connect(self.on_export_failed)
        self.export_button.setEnabled(False)
        self.status.setText(f"Exporting to {path}…")
        self.pool.submit(job, "db")

    def on_export_progress(self, job_id: int, done: object, total: object) -> None:
        if job_id == self._export_job_id and isinstance(done, int) and isinstance(total, int):
            self.status.setText(f"Exporting… {number(done)} of {number(total)} requests")

    def on_exported(self, job_id: int, result: Any) -> None:
        if job_id != self._export_job_id:
            return
        self.export_button.setEnabled(True)
        message = f"Exported {number(result.rows)} requests to {result.path}."
        self.status.setText(message)
        self.export_finished.emit(message)

    def on_export_failed(self, job_id: int, message: str) -> None:
        if job_id != self._export_job_id:
            return
        self.export_button.setEnabled(True)
        self.status.setText(message)
        self.export_finished.emit(message)


