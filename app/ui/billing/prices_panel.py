"""Price overrides editor: every known price, and a validated form to set your own.

Reading the prices, saving one and re-pricing the ledger's unpriced rows (which
can touch a million rows) run on the "db" lane; the GUI thread only draws.

Signals:
    prices_changed(int): a price was saved; carries how many unpriced rows it priced
    refresh_requested(): the user asked to read Hugging Face's router prices
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.core.billing.costs import reprice_unpriced
from app.core.billing.prices import KNOWN_CURRENCIES, validate_amount, validate_currency
from app.core.foundation.errors import ParleyError
from app.ui.locale_format import number
from app.workers import FunctionJob

if TYPE_CHECKING:
    import threading

    from app.core.billing.price import Price
    from app.core.billing.prices import PriceBook
    from app.workers import WorkerPool
    from app.workers.jobs import ProgressFn

HEADERS = ("Provider", "Model", "Input / M", "Output / M", "Cached / M", "Currency", "Date",
           "Source")  # fmt: skip


class PricesPanel(QWidget):
    prices_changed = Signal(int)
    refresh_requested = Signal()

    def __init__(
        self, book: PriceBook, pool: WorkerPool, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.book = book
        self.pool = pool
        self._load_job = 0
        self._save_job = 0
        self.table = QTableWidget(0, len(HEADERS))
        self.table.setHorizontalHeaderLabels(HEADERS)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.itemSelectionChanged.connect(self.on_selection_changed)
        self.provider = QLineEdit()
        self.model = QLineEdit()
        self.input = QLineEdit()
        self.output = QLineEdit()
        self.input.setPlaceholderText("per million prompt tokens, e.g. 0.10")
        self.output.setPlaceholderText("per million completion tokens, e.g. 0.30")
        self.currency = QComboBox()
        self.currency.addItems(sorted(KNOWN_CURRENCIES))
        self.currency.setCurrentText("USD")
        self.save = QPushButton("Save price")
        self.remove = QPushButton("Remove my override")
        self.refresh_hf = QPushButton("Refresh Hugging Face prices")
        self.refresh_hf.setToolTip("Reads the router's public model list (one request).")
        self.message = QLabel()
        self.message.setWordWrap(True)
        form = QFormLayout()
        form.addRow("Provider", self.provider)
        form.addRow("Model", self.model)
        form.addRow("Input price", self.input)
        form.addRow("Output price", self.output)
        form.addRow("Currency", self.currency)
        buttons = QHBoxLayout()
        buttons.addWidget(self.save)
        buttons.addWidget(self.remove)
        buttons.addWidget(self.refresh_hf)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table, 1)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addWidget(self.message)
        self.save.clicked.connect(self.save_price)
        self.remove.clicked.connect(self.remove_override)
        self.refresh_hf.clicked.connect(self.refresh_requested)

    def reload(self) -> None:
        """Read every price on the db lane; `show_prices` draws them."""
        book = self.book

        def work(_cancel: threading.Event, _progress: ProgressFn) -> list[Price]:
            return book.all()

        job = FunctionJob(work)
        self._load_job = job.job_id
        job.finished.connect(self.on_loaded)
        self.pool.submit(job, "db")

    def on_loaded(self, job_id: int, prices: Any) -> None:
        if job_id == self._load_job and isinstance(prices, list):
            self.show_prices(prices)

    def show_prices(self, prices: list[Price]) -> None:
        self.table.setRowCount(len(prices))
        for r, p in enumerate(prices):
            cells = (p.provider, p.model, f"{p.input:g}", f"{p.output:g}",
                     "" if p.cached_input is None else f"{p.cached_input:g}", p.currency,
                     p.date, "yours" if p.user_override else p.source)  # fmt: skip
            for c, text in enumerate(cells):
                self.table.setItem(r, c, QTableWidgetItem(text))

    def on_selection_changed(self) -> None:
        items = self.table.selectedItems()
        if not items:
            return
        row = items[0].row()
        texts = [item.text() if (item := self.table.item(row, c)) else "" for c in range(6)]
        self.provider.setText(texts[0])
        self.model.setText(texts[1])
        self.input.setText(texts[2])
        self.output.setText(texts[3])
        self.currency.setCurrentText(texts[5])

    def save_price(self) -> None:
        """Validate here; save and re-price earlier rows on the db lane."""
        try:
            inp = validate_amount(_parse(self.input.text(), "input price"), "input price")
            out = validate_amount(_parse(self.output.text(), "output price"), "output price")
            currency = validate_currency(self.currency.currentText())
        except ParleyError as exc:
            self.message.setText(str(exc))
            return
        db, book = self.book.db, self.book
        provider, model = self.provider.text(), self.model.text()

        def work(_cancel: threading.Event, _progress: ProgressFn) -> tuple[Price, int]:
            price = book.set(provider, model, inp, out, currency)
            return price, reprice_unpriced(db, book)

        job = FunctionJob(work)
        self._save_job = job.job_id
        job.finished.connect(self.on_saved)
        job.failed.connect(self.on_save_failed)
        self.save.setEnabled(False)
        self.message.setText("Saving, and pricing earlier requests…")
        self.pool.submit(job, "db")

    def on_saved(self, job_id: int, data: Any) -> None:
        if job_id != self._save_job:
            return
        price, priced = data
        self.save.setEnabled(True)
        note = f" Priced {number(priced)} earlier requests." if priced else ""
        self.message.setText(f"Saved {price.provider} {price.model}.{note}")
        self.reload()
        self.prices_changed.emit(priced)

    def on_save_failed(self, job_id: int, message: str) -> None:
        if job_id == self._save_job:
            self.save.setEnabled(True)
            self.message.setText(message)

    def remove_override(self) -> None:
        if self.book.remove_override(self.provider.text().strip(), self.model.text().strip()):
            self.message.setText("Your price was removed; the shipped one applies again.")
            self.reload()
            self.prices_changed.emit(0)
        else:
            self.message.setText("There is no price of yours for that provider and model.")


def _parse(text: str, what: str) -> float:
    try:
        return float(text.strip())
    except ValueError:
        raise ParleyError(f"The {what} '{text}' is not a number.", "Use e.g. 0.15.") from None
