"""Billing tab: the usage ledger, newest first."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

if TYPE_CHECKING:
    from app.core.context import AppContext
    from app.core.ledger import UsageRow
    from app.workers import WorkerPool

COLUMNS = ("Time", "Backend", "Provider", "Model", "Prompt", "Completion", "Tokens",
           "TTFT (s)", "Duration (s)", "Outcome")  # fmt: skip
ROW_LIMIT = 5000


class BillingTab(QWidget):
    def __init__(self, ctx: AppContext, pool: WorkerPool, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.pool = pool
        self.summary = QLabel()
        self.table = QTableWidget(0, len(COLUMNS), self)
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.empty = QLabel("No requests yet. Every answer you get will be listed here.")
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.empty, 1)
        self.refresh()

    def refresh(self) -> None:
        rows = self.ctx.ledger.rows(limit=ROW_LIMIT)
        self.table.setRowCount(len(rows))
        for r, row in enumerate(rows):
            for c, text in enumerate(self._cells(row)):
                item = QTableWidgetItem(text)
                if c >= 4 and c != 6 and c != 9:
                    right = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
                    item.setTextAlignment(right)
                self.table.setItem(r, c, item)
        total = self.ctx.ledger.count()
        tokens = sum(r.prompt_tokens + r.completion_tokens for r in rows)
        self.summary.setText(f"<b>{total:,} requests</b> · {tokens:,} tokens in the latest "
                             f"{len(rows):,}")
        self.table.setVisible(bool(rows))
        self.empty.setVisible(not rows)

    @staticmethod
    def _cells(row: UsageRow) -> list[str]:
        when = dt.datetime.fromtimestamp(row.created_at).strftime("%Y-%m-%d %H:%M:%S")
        return [
            when, row.backend, row.provider, row.model, f"{row.prompt_tokens:,}",
            f"{row.completion_tokens:,}", row.token_source,
            "" if row.ttft_s is None else f"{row.ttft_s:.2f}", f"{row.duration_s:.2f}",
            row.outcome,
        ]  # fmt: skip
