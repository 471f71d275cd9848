"""Runs the chat turns of the tab on the local lane, one at a time.

Job signals land on this QObject's slots (so on the GUI thread); results
from any job but the latest are dropped.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QEventLoop, QObject, QTimer, Signal

from app.workers import ChatJob, WorkerPool

if TYPE_CHECKING:
    from app.workers.chat_job import TurnFactory

SHUTDOWN_WAIT_MS = 10_000


class TurnRunner(QObject):
    """Signals:
    text_received(text): more of the current answer
    turn_finished(result): a `TurnResult` (done, stopped or error: all stored)
    turn_failed(message): the turn could not start or failed; a message for the user
    turn_ended: after any of the above
    """

    text_received = Signal(str)
    turn_finished = Signal(object)
    turn_failed = Signal(str)
    turn_ended = Signal()

    def __init__(self, pool: WorkerPool, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.pool = pool
        self._job: ChatJob | None = None
        self.conversation_id: int | None = None
        self.text = ""  # the current answer so far

    @property
    def running(self) -> bool:
        return self._job is not None

    @property
    def job(self) -> ChatJob | None:
        return self._job

    def start(self, conversation_id: int, start_turn: TurnFactory) -> ChatJob:
        job = ChatJob(start_turn)
        job.token_received.connect(self._on_token)
        job.finished.connect(self._on_finished)
        job.failed.connect(self._on_failed)
        job.ended.connect(self._on_ended)
        self._job = job
        self.conversation_id = conversation_id
        self.text = ""
        self.pool.submit(job, lane="local")
        return job

    def stop(self) -> None:
        """Ask the turn to stop; the backend checks the flag between tokens."""
        if self._job is not None:
            self._job.cancel()

    def shutdown(self, timeout_ms: int = SHUTDOWN_WAIT_MS) -> None:
        """Stop the turn and wait until it has ended, so its partial answer is stored."""
        if self._job is None:
            return
        self._job.cancel()
        loop = QEventLoop(self)
        timer = QTimer(self)
        timer.setSingleShot(True)
        timer.timeout.connect(loop.quit)
        # Wait for our own `turn_ended`: the job's `ended` may already be queued.
        self.turn_ended.connect(loop.quit)
        timer.start(timeout_ms)
        loop.exec()
        timer.stop()
        self.turn_ended.disconnect(loop.quit)
        timer.deleteLater()
        loop.deleteLater()

    def _current(self, job_id: int) -> bool:
        return self._job is not None and self._job.job_id == job_id

    def _on_token(self, job_id: int, text: str) -> None:
        if self._current(job_id):
            self.text += text
            self.text_received.emit(text)

    def _on_finished(self, job_id: int, result: object) -> None:
        from app.core.chat.service import TurnResult  # loaded by the turn that sent this

        if self._current(job_id) and isinstance(result, TurnResult):
            self.turn_finished.emit(result)

    def _on_failed(self, job_id: int, message: str) -> None:
        if self._current(job_id):
            self.turn_failed.emit(message)

    def _on_ended(self, job_id: int) -> None:
        if self._current(job_id):
            self._job = None
            self.turn_ended.emit()
