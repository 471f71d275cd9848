"""Price overrides editor: every known price, and a validated form to set your own.

Signals:
    prices_changed(int): a price was saved; carries how many unpriced rows it priced
    refresh_requested(): the user asked to read Hugging Face's router prices
"""

from __future__ import annotations

from typing import TYPE_CHECKING

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
from app.core.billing.prices import KNOWN_CURRENCIES, validate_amount
from app.core.foundation.errors import ParleyError

if TYPE_CHECKING:
    from app.core.billing.prices import PriceBook
    from app.core.foundation.storage import Database

HEADERS = ("Provider", "Model", "Input / M", "Output / M", "Cached / M", "Currency", "Date",
           "Source")  # fmt: skip


class PricesPanel(QWidget):
    prices_changed = Signal(int)
    refresh_requested = Signal()

    def __init__(self, db: Database, book: PriceBook, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.db = db
        self.book = book
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
        prices = self.book.all()
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
        try:
            inp = validate_amount(_parse(self.input.text(), "input price"), "input price")
            out = validate_amount(_parse(self.output.text(), "output price"), "output price")
            price = self.book.set(self.provider.text(), self.model.text(), inp, out,
                                  self.currency.currentText())  # fmt: skip
        except ParleyError as exc:
            self.message.setText(str(exc))
            return
        priced = reprice_unpriced(self.db, self.book)
        note = f" Priced {priced:,} earlier requests." if priced else ""
        self.message.setText(f"Saved {price.provider} {price.model}.{note}")
        self.reload()
        self.prices_changed.emit(priced)

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
