"""Keep the cyclic garbage collector from stalling the window.

A full collection scans every tracked object (every module, widget and message the
process holds): 60-120 ms with a long conversation open, and more the bigger the heap. So
what is alive when a conversation opens is frozen out of the collector's sight at once
(cheap), and the full pass that frees the previous conversation's cyclic garbage waits
until the user has paused (`IdleCollector`): never while switching, scrolling in, or
streaming an answer.
"""

from __future__ import annotations

import gc
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QTimer

if TYPE_CHECKING:
    from collections.abc import Callable

IDLE_MS = 3000  # no conversation opened and no answer streaming for this long


def settle_heap() -> None:
    """Freeze what is alive now (the open conversation's widgets): later collections
    skip it."""
    gc.freeze()


def collect_heap() -> None:
    """Unfreeze, collect everything (the garbage of conversations closed since the last
    pass), and freeze what survives."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()


class IdleCollector(QObject):
    """Runs `collect_heap` once the user has paused: `IDLE_MS` after the last `poke()` or
    `postpone()`, and later still while `busy()` says an answer is streaming."""

    def __init__(self, busy: Callable[[], bool], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._busy = busy
        self.timer = QTimer(self, singleShot=True, interval=IDLE_MS)
        self.timer.timeout.connect(self._on_idle)

    def poke(self) -> None:
        settle_heap()
        self.timer.start()

    def postpone(self) -> None:
        """The user did something (scrolled, typed, searched): a pending pass waits again."""
        if self.timer.isActive():
            self.timer.start()

    def stop(self) -> None:
        self.timer.stop()

    def _on_idle(self) -> None:
        if self._busy():
            self.timer.start()
            return
        collect_heap()
