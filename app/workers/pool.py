"""A pool of QThreads organised in lanes.

A lane is one or more threads sharing a FIFO queue. llama.cpp gets a
one-thread lane (one model, one generation at a time); network and file
work get wider lanes.
"""

from __future__ import annotations

import logging
import queue
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QThread

if TYPE_CHECKING:
    from app.workers.jobs import Job

logger = logging.getLogger(__name__)

DEFAULT_LANES = {"local": 1, "db": 1, "net": 4, "io": 2}


class Lane(QThread):
    def __init__(self, name: str, jobs: queue.SimpleQueue[Job | None]) -> None:
        super().__init__()
        self.setObjectName(f"parley-{name}")
        self._jobs = jobs

    def run(self) -> None:
        while (job := self._jobs.get()) is not None:
            job.run()


class WorkerPool(QObject):
    """Runs jobs on named lanes; keeps each job alive until it has ended."""

    def __init__(self, lanes: dict[str, int] | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._queues: dict[str, queue.SimpleQueue[Job | None]] = {}
        self._threads: list[Lane] = []
        self._active: dict[int, Job] = {}
        self._stuck: list[Lane] = []  # kept referenced: destroying a running QThread aborts
        for name, width in (lanes or DEFAULT_LANES).items():
            q: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
            self._queues[name] = q
            for _ in range(width):
                lane = Lane(name, q)
                lane.start()
                self._threads.append(lane)

    def submit(self, job: Job, lane: str = "net") -> Job:
        if lane not in self._queues:
            raise KeyError(f"no lane {lane!r}")
        self._active[job.job_id] = job
        job.ended.connect(self._forget)
        self._queues[lane].put(job)
        return job

    def active_jobs(self) -> list[Job]:
        return list(self._active.values())

    def cancel_all(self) -> None:
        for job in list(self._active.values()):
            job.cancel()

    def shutdown(self, timeout_ms: int = 10_000, io_timeout_ms: int = 2_000) -> bool:
        """Cancel everything, let running jobs wind down, stop the threads.

        The local lane gets `timeout_ms` (a stopped answer must reach the store);
        network and file lanes get `io_timeout_ms`, since a call blocked in a
        library's retry loop can't be interrupted. Returns False when a thread is
        still running: the caller must then not let Qt destroy it (Qt aborts).
        """
        if not self._threads:
            return not self._stuck
        self.cancel_all()
        for name, q in self._queues.items():
            width = sum(1 for t in self._threads if t.objectName() == f"parley-{name}")
            for _ in range(width):
                q.put(None)
        for thread in self._threads:
            patience = timeout_ms if thread.objectName() == "parley-local" else io_timeout_ms
            if not thread.wait(patience):
                logger.warning("lane %s did not stop in time", thread.objectName())
                self._stuck.append(thread)
        self._threads.clear()
        return not self._stuck

    def _forget(self, job_id: int) -> None:
        self._active.pop(job_id, None)
