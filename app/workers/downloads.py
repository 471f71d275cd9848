"""The model downloads of a session: the queue in SQLite, a job per running download.

It belongs to the main window, not to the Models tab (which is built the first
time it is shown), so downloads left running when Parley closed resume at the
next start whether or not the user ever opens that tab.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Signal

from app.core.local import hub
from app.core.local.downloads.queue import DownloadEntry, DownloadQueue, DownloadState
from app.core.local.downloads.transfer import DownloadResult, discard_partials, download_model
from app.workers.jobs import FunctionJob

if TYPE_CHECKING:
    import threading
    from collections.abc import Callable
    from pathlib import Path

    from app.core.context import AppContext
    from app.workers.pool import WorkerPool

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
class Live:
    job: FunctionJob
    intent: str = ""  # "pause" | "cancel" once the user asked
    last_time: float = 0.0
    last_done: int = -1
    rate: float = 0.0  # bytes per second, smoothed
    saved_at: float = 0.0


class DownloadManager(QObject):
    """Starts, pauses, cancels and resumes downloads; views listen to its signals.

    Signals:
        changed(): a row's state or saved progress changed (redraw the table)
        progressed(entry_id, done, total): bytes moved (between saves)
        download_finished(entry_id): verified and installed
        download_ended(entry_id): stopped for any reason
        message_posted(text): a sentence for the user (a failure, an install)
    """

    changed = Signal()
    progressed = Signal(int, object, object)
    download_finished = Signal(int)
    download_ended = Signal(int)
    message_posted = Signal(str)

    def __init__(self, ctx: AppContext, pool: WorkerPool, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.pool = pool
        self.queue = DownloadQueue(ctx.db)
        self.live: dict[int, Live] = {}  # entry id -> running job
        self._by_job: dict[int, int] = {}  # job id -> entry id
        self._recovered = False
        self.closed = False  # after shutdown(): late job signals are ignored

    # commands -------------------------------------------------------------
    def add(self, repo: str, path: str, size: int) -> int:
        entry = self.queue.add(repo, path, size)
        self.start(entry.id)
        return entry.id

    def resume_all(self) -> list[int]:
        """Once per session: continue what was queued or running when Parley stopped.

        Offline mode leaves them queued (they start once it is off and the user resumes).
        """
        if self._recovered:
            return []
        self._recovered = True
        entries = self.queue.recover()
        if self.ctx.is_offline():
            return []
        for entry in entries:
            self.start(entry.id)
        return [e.id for e in entries]

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
        self.live[entry_id] = Live(job, last_time=time.monotonic())
        self._by_job[job.job_id] = entry_id
        self.queue.set_state(entry_id, DownloadState.RUNNING)
        self.pool.submit(job, "io")
        self.changed.emit()

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

    def clear_finished(self) -> None:
        self.queue.clear_finished()
        self.changed.emit()

    def shutdown(self) -> None:
        """The app is closing: leave running rows as `running`, so the next start resumes them."""
        self.closed = True
        self._by_job.clear()

    def rate(self, entry_id: int) -> float:
        live = self.live.get(entry_id)
        return live.rate if live else 0.0

    # job signals (GUI thread) -----------------------------------------------
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
            self.changed.emit()
        else:
            self.progressed.emit(entry_id, done, total)

    def _on_finished(self, job_id: int, _results: Any) -> None:
        entry_id = self._by_job.get(job_id)
        if entry_id is None:
            return
        entry = self.queue.get(entry_id)
        if entry is not None:
            self.queue.set_progress(entry_id, entry.size, entry.size)
        self.queue.set_state(entry_id, DownloadState.DONE)
        self._forget(entry_id, job_id)
        self.message_posted.emit(
            f"{entry.name if entry else 'The model'} is verified and installed."
        )
        self.download_finished.emit(entry_id)

    def _on_failed(self, job_id: int, message: str) -> None:
        entry_id = self._by_job.get(job_id)
        if entry_id is not None:
            self.queue.set_state(entry_id, DownloadState.FAILED, message)
            self._forget(entry_id, job_id)
            self.message_posted.emit(message)

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
        self.changed.emit()
        self.download_ended.emit(entry_id)

    def _forget(self, entry_id: int, job_id: int) -> None:
        # Only this job's record: a new job for the same entry may already run.
        live = self.live.get(entry_id)
        if live is not None and live.job.job_id == job_id:
            del self.live[entry_id]

    def _discard(self, entry_id: int) -> None:
        entry = self.queue.get(entry_id)
        if entry is not None:
            discard_partials(self.ctx.catalog.models_dir, entry.repo, entry.path, entry.revision)
            self.queue.set_progress(entry_id, 0, entry.size)
        self.queue.set_state(entry_id, DownloadState.CANCELLED)
        self.changed.emit()
