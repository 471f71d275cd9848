"""A figure under the message box worked out on the "io" lane once typing pauses: the cost
line (`cost_preview`) and the context meter (`context_meter`). Stale results are dropped."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, QTimer

from app.workers import FunctionJob

if TYPE_CHECKING:
    import threading
    from collections.abc import Callable

    from app.core.context import AppContext
    from app.core.llm.targets import Target
    from app.ui.chat.composer import Composer
    from app.workers import WorkerPool
    from app.workers.jobs import ProgressFn

DELAY_MS = 400


class ComposerFigure(QObject):
    """Debounces, runs `work` off the GUI thread, and hands back only the newest result."""

    def __init__(
        self,
        ctx: AppContext,
        pool: WorkerPool,
        composer: Composer,
        current: Callable[[], tuple[int | None, Target | None]],
    ) -> None:
        super().__init__(composer)
        self.ctx = ctx
        self.pool = pool
        self.composer = composer
        self.current = current
        self._job_id = 0
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.setInterval(DELAY_MS)
        self.timer.timeout.connect(self.update_now)
        composer.editor.textChanged.connect(self.schedule)
        composer.attachments_changed.connect(self.schedule)

    def schedule(self) -> None:
        self.timer.start()

    def update_now(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        self.timer.stop()
        self._job_id = 0

    def submit(self, work: Callable[[threading.Event, ProgressFn], Any]) -> None:
        job = FunctionJob(work)
        self._job_id = job.job_id
        job.finished.connect(self._finished)
        job.failed.connect(self._failed)
        self.pool.submit(job, "io")

    def _finished(self, job_id: int, data: Any) -> None:
        if job_id == self._job_id:
            self.on_result(data)

    def _failed(self, job_id: int, message: str) -> None:
        if job_id == self._job_id:
            self.on_error(message)

    def on_result(self, data: Any) -> None:
        raise NotImplementedError

    def on_error(self, message: str) -> None:
        raise NotImplementedError
