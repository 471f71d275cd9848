"""Jobs: units of slow work that run on a pool lane and report through signals."""

from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Signal

from app.core.foundation.errors import ParleyError

logger = logging.getLogger(__name__)

_job_ids = itertools.count(1)
BUG_MESSAGE = "Something went wrong. The details are in Parley's log."

ProgressFn = Callable[[int, int], None]


class Job(QObject):
    """A cancellable unit of work. Subclasses implement `work()`.

    Signals:
        started(job_id)
        progress(job_id, done, total)
        finished(job_id, result)
        failed(job_id, message): a message the user can read
        cancelled(job_id)
        ended(job_id): after any of finished / failed / cancelled
    """

    started = Signal(int)
    progress = Signal(int, object, object)
    finished = Signal(int, object)
    failed = Signal(int, str)
    cancelled = Signal(int)
    ended = Signal(int)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.job_id = next(_job_ids)
        self.cancel_event = threading.Event()
        self._last_progress: tuple[int, int] | None = None

    def cancel(self) -> None:
        self.cancel_event.set()

    @property
    def is_cancelled(self) -> bool:
        return self.cancel_event.is_set()

    def report_progress(self, done: int, total: int) -> None:
        """Emit only visible changes: at most one per 0.1 % step."""
        step = max(1, total // 1000) if total > 0 else 1
        key = (done // step, total)
        if key != self._last_progress:
            self._last_progress = key
            self.progress.emit(self.job_id, done, total)

    def work(self) -> Any:
        raise NotImplementedError

    def run(self) -> None:
        """Called on a lane thread. Never raises."""
        try:
            if self.is_cancelled:
                self.cancelled.emit(self.job_id)
                return
            self.started.emit(self.job_id)
            try:
                result = self.work()
            except ParleyError as exc:
                self.failed.emit(self.job_id, str(exc))
            except Exception:  # the job edge: log the bug, report it as data
                logger.exception("job %s failed", type(self).__name__)
                self.failed.emit(self.job_id, BUG_MESSAGE)
            else:
                if self.is_cancelled and result is None:
                    self.cancelled.emit(self.job_id)
                else:
                    self.finished.emit(self.job_id, result)
        finally:
            self.ended.emit(self.job_id)


class FunctionJob(Job):
    """Runs `fn(cancel_event, progress)` on a lane; its return value is the result."""

    def __init__(
        self,
        fn: Callable[[threading.Event, ProgressFn], Any],
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._fn = fn

    def work(self) -> Any:
        return self._fn(self.cancel_event, self.report_progress)
