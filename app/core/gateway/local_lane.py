"""The gateway's queue for local generation: one at a time (llama.cpp), a bounded wait.

A request that finds the queue full gets HTTP 429 with `Retry-After` at once,
estimated from how long recent local requests took.
"""

from __future__ import annotations

import math
import threading
from typing import TYPE_CHECKING

from app.core.gateway.openai_api import ApiError

if TYPE_CHECKING:
    from threading import Event

DEFAULT_MAX_WAITING = 8
_POLL_S = 0.05  # how often a waiting request looks at its cancel flag


class LocalLane:
    def __init__(self, max_waiting: int = DEFAULT_MAX_WAITING) -> None:
        self.max_waiting = max_waiting
        self._cond = threading.Condition()
        self._busy = False
        self._waiting = 0
        self._typical_s = 10.0  # a running average of local request durations

    @property
    def waiting(self) -> int:
        with self._cond:
            return self._waiting

    def enter(self) -> None:
        """Join the queue, or raise `ApiError` 429 when it is full."""
        with self._cond:
            if self._busy and self._waiting >= self.max_waiting:
                wait = max(1, math.ceil(self._typical_s * (self._waiting + 1)))
                raise ApiError(
                    429,
                    f"The local model is busy with {self._waiting + 1} requests; try again in "
                    f"about {wait} s, or use a cloud model.",
                    "rate_limit_error", "local_queue_full", headers={"Retry-After": str(wait)},
                )  # fmt: skip
            self._waiting += 1

    def acquire(self, cancel: Event) -> bool:
        """Wait for the model (after `enter`); False when cancelled while waiting."""
        with self._cond:
            while self._busy:
                if cancel.is_set():
                    self._waiting -= 1
                    return False
                self._cond.wait(_POLL_S)
            self._waiting -= 1
            self._busy = True
            return True

    def leave_queue(self) -> None:
        """Give up a place taken with `enter` that will never `acquire`."""
        with self._cond:
            self._waiting -= 1

    def release(self, duration_s: float) -> None:
        with self._cond:
            self._busy = False
            self._typical_s = 0.7 * self._typical_s + 0.3 * max(duration_s, 0.1)
            self._cond.notify()
