"""Models tab: the installed local models."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

if TYPE_CHECKING:
    from app.core.context import AppContext
    from app.core.models import InstalledModel
    from app.workers import WorkerPool

COLUMNS = ("Name", "Quantization", "Size", "Architecture", "Context", "Parameters", "Path")


class ModelsTab(QWidget):
    def __init__(self, ctx: AppContext, pool: WorkerPool, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.pool = pool
        self.heading = QLabel("<b>Installed models</b>")
        self.table = QTableWidget(0, len(COLUMNS), self)
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.empty = QLabel(
            "No local models yet. Run <code>parley models install-starter</code> to get the "
            "small starter model."
        )
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.clicked.connect(self.refresh)
        layout = QVBoxLayout(self)
        layout.addWidget(self.heading)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.empty, 1)
        layout.addWidget(self.refresh_button, 0, Qt.AlignmentFlag.AlignRight)
        self.refresh()

    def refresh(self) -> None:
        models = self.ctx.catalog.list()
        active = self.ctx.catalog.active()
        self.table.setRowCount(len(models))
        for row, model in enumerate(models):
            for col, text in enumerate(self._cells(model, model == active)):
                self.table.setItem(row, col, QTableWidgetItem(text))
        self.table.setVisible(bool(models))
        self.empty.setVisible(not models)

    @staticmethod
    def _cells(m: InstalledModel, active: bool) -> list[str]:
        return [
            f"{m.name}  (active)" if active else m.name,
            m.quantization or "?",
            f"{m.size_bytes / 1e6:,.0f} MB",
            m.architecture,
            f"{m.context_length:,}" if m.context_length else "?",
            f"{m.parameters / 1e6:,.0f} M",
            str(m.path),
        ]
