"""Budgets editor: the budgets with this period's spend, and a form to set one.

Signals:
    budgets_changed(): a budget was set or deleted (the tab reloads its data)
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
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

from app.core.billing.prices import KNOWN_CURRENCIES
from app.core.foundation.errors import ParleyError
from app.ui.billing.format import money

if TYPE_CHECKING:
    from app.core.billing.budgets import BudgetBook, BudgetStatus

HEADERS = ("Scope", "Name", "Period", "Amount", "Spent", "Used", "Hard limit", "Note")


class BudgetsPanel(QWidget):
    budgets_changed = Signal()

    def __init__(self, book: BudgetBook, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.book = book
        self.table = QTableWidget(0, len(HEADERS))
        self.table.setHorizontalHeaderLabels(HEADERS)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.amount = QLineEdit()
        self.amount.setPlaceholderText("e.g. 10")
        self.period = QComboBox()
        self.period.addItems(["month", "day"])
        self.scope = QComboBox()
        self.scope.addItems(["overall", "provider", "project"])
        self.name = QLineEdit()
        self.name.setPlaceholderText("provider or project name")
        self.currency = QComboBox()
        self.currency.addItems(sorted(KNOWN_CURRENCIES))
        self.currency.setCurrentText("USD")
        self.hard = QCheckBox("Hard limit: refuse cloud requests that could cross it")
        self.warn_at = QLineEdit("80")
        self.save = QPushButton("Set budget")
        self.delete = QPushButton("Delete selected")
        self.message = QLabel()
        self.message.setWordWrap(True)
        form = QFormLayout()
        form.addRow("Amount", self.amount)
        form.addRow("Currency", self.currency)
        form.addRow("Period", self.period)
        form.addRow("Applies to", self.scope)
        form.addRow("Name", self.name)
        form.addRow("Warn at (%)", self.warn_at)
        form.addRow(self.hard)
        buttons = QHBoxLayout()
        buttons.addWidget(self.save)
        buttons.addWidget(self.delete)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table, 1)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addWidget(self.message)
        self._ids: list[int] = []
        self.save.clicked.connect(self.save_budget)
        self.delete.clicked.connect(self.delete_selected)

    def show_statuses(self, statuses: tuple[BudgetStatus, ...]) -> None:
        self.table.setRowCount(len(statuses))
        self._ids = [s.budget.id for s in statuses]
        for r, s in enumerate(statuses):
            b = s.budget
            used = "" if math.isinf(s.fraction) else f"{s.fraction:.0%}"
            notes = []
            if s.other_currency_rows:
                notes.append(f"{s.other_currency_rows} requests in another currency not counted")
            if s.unpriced_rows:
                notes.append(f"{s.unpriced_rows} without a price")
            cells = (b.scope, b.name, b.period, money(b.amount, b.currency),
                     money(s.spent, b.currency), used, "yes" if b.hard else "",
                     "; ".join(notes))  # fmt: skip
            for c, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if 3 <= c <= 5:
                    item.setTextAlignment(
                        Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(r, c, item)

    def save_budget(self) -> None:
        try:
            amount = _number(self.amount.text(), "amount")
            warn_at = _number(self.warn_at.text(), "warning threshold") / 100
            scope = self.scope.currentText()
            name = self.name.text().strip()
            if scope != "overall" and not name:
                raise ParleyError(f"A {scope} budget needs the {scope}'s name.")
            self.book.set(
                amount, self.period.currentText(),
                provider=name if scope == "provider" else None,
                project=name if scope == "project" else None,
                hard=self.hard.isChecked(), currency=self.currency.currentText(),
                warn_at=warn_at,
            )  # fmt: skip
        except ParleyError as exc:
            self.message.setText(str(exc))
            return
        self.message.setText("Budget saved.")
        self.budgets_changed.emit()

    def delete_selected(self) -> None:
        rows = sorted({i.row() for i in self.table.selectedIndexes()})
        for row in rows:
            self.book.delete(self._ids[row])
        if rows:
            self.message.setText("Budget deleted.")
            self.budgets_changed.emit()


def _number(text: str, what: str) -> float:
    try:
        value = float(text.strip())
    except ValueError:
        raise ParleyError(f"The {what} '{text}' is not a number.", "Use e.g. 10.") from None
    return value
