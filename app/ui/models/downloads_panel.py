"""The downloads queue: bytes, speed, ETA; pause, resume, cancel; several at once.

The queue lives in SQLite (`DownloadQueue`) and the bytes in stable partial
files, so after a restart the same rows come back and resume where they were.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

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

from app.core.local import hub
from app.core.local.downloads.queue import DownloadEntry, DownloadQueue, DownloadState
from app.core.local.downloads.transfer import DownloadResult, discard_partials, download_model
from app.ui.models import format as fmt
from app.ui.safe_text import plain_label, plain_tip
from app.workers import FunctionJob

if TYPE_CHECKING:
    import threading
    from collections.abc import Callable
    from pathlib import Path

    from app.core.context import AppContext
    from app.core.local.remote_fit import AssessedModel
    from app.workers import WorkerPool

COLUMNS = ("File", "Repo", "Progress", "Bytes", "Speed", "ETA", "State")
SAVE_EVERY_S = 1.0
RATE_SMOOTHING = 0.3


def _run(
    entry: DownloadEntry,
    models_dir: Path,
    cancel: threading.Event,
    progress: Callable[[int, int], None],
) -> list[DownloadResult] | None:
    model = hub.find_model(entry.repo, entry.path, entry.revision)
    return download_model(model, models_dir, cancel, progress, revision=entry.revision)


@dataclass
class _Live:
    job: FunctionJob
    intent: str = ""  # "pause" | "cancel" once the user asked
    last_time: float = 0.0
    last_done: int = -1
    rate: float = 0.0
    saved_at: float = 0.0


class DownloadsPanel(QWidget):
    """Signals:
    download_finished(int): a download (entry id) is verified and installed
    download_ended(int): a download stopped for any reason (done, paused, failed, cancelled)
    """

    download_finished = Signal(int)
    download_ended = Signal(int)

    def __init__(self, ctx: AppContext, pool: WorkerPool, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.pool = pool
        self.queue = DownloadQueue(ctx.db)
        self.live: dict[int, _Live] = {}  # entry id -> running job
        self._by_job: dict[int, int] = {}  # job id -> entry id
        self.closed = False  # after shutdown(): late job signals are ignored
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

    # commands -----------------------------------------------------------
    def add(self, assessed: AssessedModel) -> int:
        m = assessed.model
        entry = self.queue.add(m.repo_id, m.first.path, m.size)
        self.start(entry.id)
        return entry.id

    def resume_all(self) -> None:
        """After a restart: continue what was queued or running when Parley stopped."""
        for entry in self.queue.recover():
            self.start(entry.id)

    def start(self, entry_id: int) -> None:
        entry = self.queue.get(entry_id)
        if entry is None or entry_id in self.live or entry.state is DownloadState.DONE:
            return
        job = FunctionJob(functools.partial(_run, entry, self.ctx.catalog.models_dir))
        job.progress.connect(self._on_progress)
        job.finished.connect(self._on_finished)
        job.failed.connect(self._on_failed)
        job.cancelled.connect(self._on_cancelled)
        job.ended.connect(self._on_ended)
        self.live[entry_id] = _Live(job, last_time=time.monotonic())
        self._by_job[job.job_id] = entry_id
        self.queue.set_state(entry_id, DownloadState.RUNNING)
        self.pool.submit(job, "io")
        self.redraw()

    def pause(self, entry_id: int) -> None:
        if live := self.live.get(entry_id):
            live.intent = "pause"
            live.job.cancel()

    def cancel(self, entry_id: int) -> None:
        if live := self.live.get(entry_id):
            live.intent = "cancel"
            live.job.cancel()
            return
        self._discard(entry_id)

    def shutdown(self) -> None:
        """The app is closing: leave running rows as `running`, so the next start resumes them."""
        self.closed = True
        self._by_job.clear()

    # slots (GUI thread) -----------------------------------------------------
    def _on_progress(self, job_id: int, done: int, total: int) -> None:
        entry_id = self._by_job.get(job_id)
        live = self.live.get(entry_id) if entry_id is not None else None
        if live is None or entry_id is None:
            return
        now = time.monotonic()
        if live.last_done >= 0 and now > live.last_time:
            instant = (done - live.last_done) / (now - live.last_time)
            live.rate = instant if live.rate == 0 else (
                RATE_SMOOTHING * instant + (1 - RATE_SMOOTHING) * live.rate)  # fmt: skip
        live.last_done, live.last_time = done, now
        if now - live.saved_at >= SAVE_EVERY_S or done >= total:
            live.saved_at = now
            self.queue.set_progress(entry_id, done, total)
            self.redraw()
        else:
            self._render_row_progress(entry_id, done, total, live.rate)

    def _on_finished(self, job_id: int, results: Any) -> None:
        entry_id = self._by_job.get(job_id)
        if entry_id is None:
            return
        entry = self.queue.get(entry_id)
        if entry is not None:
            self.queue.set_progress(entry_id, entry.size, entry.size)
        self.queue.set_state(entry_id, DownloadState.DONE)
        self._forget(entry_id, job_id)
        self.message.setText(f"{entry.name if entry else 'The model'} is verified and installed.")
        self.download_finished.emit(entry_id)

    def _on_failed(self, job_id: int, message: str) -> None:
        entry_id = self._by_job.get(job_id)
        if entry_id is not None:
            self.queue.set_state(entry_id, DownloadState.FAILED, message)
            self.message.setText(message)
            self._forget(entry_id, job_id)

    def _on_cancelled(self, job_id: int) -> None:
        entry_id = self._by_job.get(job_id)
        live = self.live.get(entry_id) if entry_id is not None else None
        if entry_id is None:
            return
        self._forget(entry_id, job_id)
        if live is not None and live.intent == "cancel":
            self._discard(entry_id)
        elif live is not None and live.intent == "pause":  # keep the partial
            self.queue.set_state(entry_id, DownloadState.PAUSED)
        # else the pool is stopping (the app closes): the row stays `running`, so the
        # next start resumes it.

    def _on_ended(self, job_id: int) -> None:
        entry_id = self._by_job.pop(job_id, None)
        if entry_id is None:
            return
        self._forget(entry_id, job_id)
        self.redraw()
        self.download_ended.emit(entry_id)

    def _forget(self, entry_id: int, job_id: int) -> None:
        # Only this job's record: a new job for the same entry may already run.
        live = self.live.get(entry_id)
        if live is not None and live.job.job_id == job_id:
            del self.live[entry_id]

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
        self.queue.clear_finished()
        self.redraw()

    # view -----------------------------------------------------------------
    def selected_ids(self) -> list[int]:
        rows = self.table.selectionModel().selectedRows()
        return [self.entries[r.row()].id for r in rows if r.row() < len(self.entries)]

    def select(self, entry_id: int) -> None:
        for row, entry in enumerate(self.entries):
            if entry.id == entry_id:
                self.table.selectRow(row)

    def _discard(self, entry_id: int) -> None:
        entry = self.queue.get(entry_id)
        if entry is not None:
            discard_partials(self.ctx.catalog.models_dir, entry.repo, entry.path, entry.revision)
            self.queue.set_progress(entry_id, 0, entry.size)
        self.queue.set_state(entry_id, DownloadState.CANCELLED)
        self.redraw()

    def redraw(self) -> None:
        selected = set(self.selected_ids()) if self.entries else set()
        self.entries = self.queue.entries()
        self.table.setRowCount(len(self.entries))
        for row, e in enumerate(self.entries):
            live = self.live.get(e.id)
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
            self._fill_progress(row, e.done, e.size, live.rate if live else 0.0)
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
