"""The GUI stall meter: a 1 ms precise timer on the GUI thread; gaps between ticks are stalls.

Shared by bench/ui_stall.py (streaming) and tests/reliability (scrolling, search,
switching conversations).
"""

from __future__ import annotations

import sys
import time

from PySide6.QtCore import QObject, Qt, QTimer


class StallMeter(QObject):
    """`start()`, do things, `stop()`; `longest_ms` and `summary()` say how long the GUI froze.

    `label` names what is being done, so `worst` says when the longest stall came;
    `verbose_ms` prints every stall longer than that.
    """

    def __init__(self, verbose_ms: float | None = None) -> None:
        super().__init__()
        self.timer = QTimer(self)
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.setInterval(1)
        self.timer.timeout.connect(self._tick)
        self.gaps: list[float] = []
        self.worst: tuple[float, str] = (0.0, "")
        self.label = ""
        self.verbose_ms = verbose_ms
        self._last = 0.0

    def start(self) -> None:
        """Start (again), forgetting earlier gaps."""
        self.gaps = []
        self.worst = (0.0, "")
        self._last = time.perf_counter()
        self.timer.start()

    def stop(self) -> None:
        self.timer.stop()
        self._tick()

    def _tick(self) -> None:
        now = time.perf_counter()
        gap = (now - self._last) * 1000
        self.gaps.append(gap)
        if gap > self.worst[0]:
            self.worst = (gap, self.label)
        if self.verbose_ms is not None and gap > self.verbose_ms:
            print(f"stall {gap:.1f} ms at tick {len(self.gaps)} ({self.label})", file=sys.stderr)
        self._last = now

    @property
    def longest_ms(self) -> float:
        return self.worst[0]

    def summary(self) -> tuple[float, float]:
        """(longest, 99th percentile) gap in milliseconds."""
        ordered = sorted(self.gaps) or [0.0]
        p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
        return ordered[-1], p99
