"""A comparison on the pool: columns stream concurrently, each coalesced to ≤ 60 updates/s."""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal

from app.workers.jobs import Job

if TYPE_CHECKING:
    from app.core.chat.compare import CompareRunner, Comparison
    from app.core.llm.contract import Sampling
    from app.core.llm.targets import Target

EMIT_INTERVAL_S = 1 / 60


class CompareJob(Job):
    """Runs one comparison.

    Signals (besides Job's):
        column_token_received(job_id, position, text): new text of one column
        column_status_changed(job_id, position, status): waiting / running / done / ...
    """

    column_token_received = Signal(int, int, str)
    column_status_changed = Signal(int, int, str)

    def __init__(
        self,
        runner: CompareRunner,
        prompt: str,
        targets: list[Target],
        *,
        system_prompt: str = "",
        sampling: Sampling | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._runner = runner
        self._prompt = prompt
        self._targets = targets
        self._system_prompt = system_prompt
        self._sampling = sampling
        self.column_cancels = [threading.Event() for _ in targets]
        self._pending: list[list[str]] = [[] for _ in targets]
        self._last_emit = [0.0] * len(targets)
        self._lock = threading.Lock()

    def cancel(self) -> None:
        super().cancel()
        for event in self.column_cancels:
            event.set()

    def cancel_column(self, position: int) -> None:
        self.column_cancels[position].set()

    def work(self) -> Comparison:
        return self._runner.run(
            self._prompt,
            self._targets,
            system_prompt=self._system_prompt,
            sampling=self._sampling,
            cancels=self.column_cancels,
            on_delta=self._on_delta,
            on_status=self._on_status,
        )

    def _on_delta(self, position: int, text: str) -> None:
        now = time.monotonic()
        with self._lock:
            self._pending[position].append(text)
            if now - self._last_emit[position] < EMIT_INTERVAL_S:
                return
            chunk = "".join(self._pending[position])
            self._pending[position].clear()
            self._last_emit[position] = now
        self.column_token_received.emit(self.job_id, position, chunk)

    def _on_status(self, position: int, status: str) -> None:
        with self._lock:
            chunk = "".join(self._pending[position])
            self._pending[position].clear()
        if chunk:
            self.column_token_received.emit(self.job_id, position, chunk)
        self.column_status_changed.emit(self.job_id, position, status)
