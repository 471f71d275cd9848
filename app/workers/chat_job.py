"""A chat turn on the local lane, its text coalesced to at most 60 updates a second."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Protocol

from PySide6.QtCore import QObject, Signal

from app.core.foundation.streams import consume
from app.workers.jobs import Job

if TYPE_CHECKING:
    from collections.abc import Callable, Generator
    from threading import Event

    from app.core.chat.service import TurnResult

EMIT_INTERVAL_S = 1 / 60


class TurnFactory(Protocol):
    """Starts one turn (`ChatService.send` and its kin, bound to their arguments)."""

    def __call__(
        self, cancel: Event, *, on_load_progress: Callable[[str, float], None] | None = None
    ) -> Generator[str, None, TurnResult]: ...


class ChatJob(Job):
    """Runs one `ChatService` turn.

    Signals (besides Job's):
        token_received(job_id, text): new text since the last emission
        message_started(job_id): the turn's messages are in the store
    """

    token_received = Signal(int, str)

    def __init__(self, start_turn: TurnFactory, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._start_turn = start_turn

    def work(self) -> TurnResult:
        pending: list[str] = []
        last_emit = time.monotonic()

        def coalesce(delta: str) -> None:
            nonlocal last_emit
            pending.append(delta)
            now = time.monotonic()
            if now - last_emit >= EMIT_INTERVAL_S:
                self.token_received.emit(self.job_id, "".join(pending))
                pending.clear()
                last_emit = now

        result = consume(self._start_turn(self.cancel_event), coalesce)
        if pending:
            self.token_received.emit(self.job_id, "".join(pending))
        return result
