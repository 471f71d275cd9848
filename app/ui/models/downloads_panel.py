"""The downloads queue: bytes, speed, ETA; pause, resume, cancel; several at once.

The queue lives in SQLite (`DownloadQueue`) and the bytes in stable partial
files, so after a restart the same rows come back and resume where they were.
The downloads themselves belong to a `DownloadManager` (the main window's, so
they resume at start); this panel shows and steers them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.ui.models import format as fmt
from app.ui.safe_text import plain_label, plain_tip
from app.workers.downloads import DownloadManager

if TYPE_CHECKING:
    from app.core.context import AppContext
    from app.core.local.downloads.queue import DownloadEntry, DownloadQueue
    from app.core.local.remote_fit import AssessedModel
    from app.workers import WorkerPool

COLUMNS = ("File", "Repo", "Progress", "Bytes", "Speed", "ETA", "State")


class DownloadsPanel(QWidget):
    """Signals:
    download_finished(int): a download (entry id) is verified and installed
    download_ended(int): a download stopped for any reason (done, paused, failed, cancelled)
    """

    download_finished = Signal(int)
    download_ended = Signal(int)

    def __init__(
        self,
        ctx: AppContext,
        pool: WorkerPool,
        parent: QWidget | None = None,
        manager: DownloadManager | None = None,
    ) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.manager = manager or DownloadManager(ctx, pool, self)
        self.manager.changed.connect(self.redraw)
        self.manager.progressed.connect(self._on_progressed)
        self.manager.download_finished.connect(self.download_finished)
        self.manager.download_ended.connect(self.download_ended)
        self.manager.message_posted.connect(self._on_message)
        self.entries: list[DownloadEntry] = []
        self.table = QTableWidget(0, len(COLUMNS), self)
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.pause_button = QPushButton("Pause")
        self.resume_button = QPushButton("Resume")
        self.cancel_button = QPushButton("Cancel")
        self.clear_button = QPushButton("Clear finished")
        self.pause_button.clicked.connect(self._on_pause_clicked)
        self.resume_button.clicked.connect(self._on_resume_clicked)
        self.cancel_button.clicked.connect(self._on_cancel_clicked)
        self.clear_button.clicked.connect(self._on_clear_clicked)
        self.message = plain_label(QLabel(""))
        self.message.setWordWrap(True)
        buttons = QHBoxLayout()
        for b in (self.pause_button, self.resume_button, self.cancel_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        buttons.addWidget(self.clear_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.message)
        layout.addLayout(buttons)
        self.redraw()

    @property
    def queue(self) -> DownloadQueue:
        return self.manager.queue

    # commands -----------------------------------------------------------
    def add(self, assessed: AssessedModel) -> int:
        m = assessed.model
        return self.manager.add(m.repo_id, m.first.path, m.size)

    def resume_all(self) -> None:
        """After a restart: continue what was queued or running (once per session)."""
        self.manager.resume_all()

    def start(self, entry_id: int) -> None:
        self.manager.start(entry_id)

    def pause(self, entry_id: int) -> None:
        self.manager.pause(entry_id)

    def cancel(self, entry_id: int) -> None:
        self.manager.cancel(entry_id)

    def shutdown(self) -> None:
        """The app is closing: leave running rows as `running`, so the next start resumes them."""
        self.manager.shutdown()

    # slots (GUI thread) -----------------------------------------------------
    def _on_progressed(self, entry_id: int, done: int, total: int) -> None:
        self._render_row_progress(entry_id, done, total, self.manager.rate(entry_id))

    def _on_message(self, text: str) -> None:
        self.message.setText(text)

    def _on_pause_clicked(self) -> None:
        for entry_id in self.selected_ids():
            self.pause(entry_id)

    def _on_resume_clicked(self) -> None:
        for entry_id in self.selected_ids():
            self.start(entry_id)

    def _on_cancel_clicked(self) -> None:
        for entry_id in self.selected_ids():
            self.cancel(entry_id)

    def _on_clear_clicked(self) -> None:
        self.manager.clear_finished()

    # view -----------------------------------------------------------------
    def selected_ids(self) -> list[int]:
        rows = self.table.selectionModel().selectedRows()
        return [self.entries[r.row()].id for r in rows if r.row() < len(self.entries)]

    def select(self, entry_id: int) -> None:
        for row, entry in enumerate(self.entries):
            if entry.id == entry_id:
                self.table.selectRow(row)

    def redraw(self) -> None:
        selected = set(self.selected_ids()) if self.entries else set()
        self.entries = self.queue.entries()
        self.table.setRowCount(len(self.entries))
        for row, e in enumerate(self.entries):
            state = str(e.state) if not e.error else f"{e.state}: {e.error}"
            cells = {0: e.name, 1: e.repo, 6: state}
            for col, text in cells.items():
                item = QTableWidgetItem(text)
                item.setToolTip(plain_tip(e.error or ""))
                self.table.setItem(row, col, item)
            bar = self.table.cellWidget(row, 2)
            if not isinstance(bar, QProgressBar):
                bar = QProgressBar(self.table)
                bar.setRange(0, 1000)
                self.table.setCellWidget(row, 2, bar)
            self._fill_progress(row, e.done, e.size, self.manager.rate(e.id))
            if e.id in selected:
                self.table.selectRow(row)

    def _render_row_progress(self, entry_id: int, done: int, total: int, rate: float) -> None:
        for row, e in enumerate(self.entries):
            if e.id == entry_id:
                self._fill_progress(row, done, total, rate)

    def _fill_progress(self, row: int, done: int, total: int, rate: float) -> None:
        bar = self.table.cellWidget(row, 2)
        if isinstance(bar, QProgressBar):
            bar.setValue(int(1000 * done / total) if total else 0)
        self.table.setItem(row, 3, QTableWidgetItem(f"{fmt.size(done)} / {fmt.size(total)}"))
        self.table.setItem(row, 4, QTableWidgetItem(fmt.rate(rate)))
        remaining = (total - done) / rate if rate > 0 else None
        self.table.setItem(row, 5, QTableWidgetItem(fmt.eta(remaining)))
