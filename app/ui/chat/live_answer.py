"""The answer being written: its text collects in a buffer and only its widget re-renders,
from a single-shot timer that starts when new text arrives and none is pending: one render
per `RENDER_INTERVAL_MS` at most (~33 Hz while text flows), and one more at the end."""

from __future__ import annotations

import time
from collections import deque
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QTimer

if TYPE_CHECKING:
    from app.ui.chat.message_widget import MessageWidget

RENDER_INTERVAL_MS = 30  # ~33 Hz: smooth to the eye, cheap for the GUI thread


class LiveAnswer(QObject):
    """Streams text into one message widget; counts and times its renders (for the tests and
    the bench)."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.widget: MessageWidget | None = None
        self.text = ""
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.render)
        self.renders = 0
        self.last_render_ms = 0.0
        self.render_ms: deque[float] = deque(maxlen=10_000)  # each render's cost
        self._last_render_at = 0.0

    def attach(self, widget: MessageWidget, text: str = "") -> None:
        """Stream into `widget`, which shows `text` so far."""
        self.widget = widget
        self.text = text
        if text:
            self.render()
        else:
            widget.body.prepare_prose()

    def append(self, text: str) -> None:
        if self.widget is None:
            return
        self.text += text
        if not self._timer.isActive():
            # Throttle: the next render comes RENDER_INTERVAL_MS after the last one.
            since = (time.perf_counter() - self._last_render_at) * 1000
            self._timer.start(max(0, int(RENDER_INTERVAL_MS - since)))

    def finish(self) -> None:
        """Render what arrived since the last render, then stop streaming."""
        if self.widget is not None:
            self._timer.stop()
            self.render()
        self.stop()

    def stop(self) -> None:
        self._timer.stop()
        self.widget = None
        self.text = ""

    def render(self) -> None:
        if self.widget is not None:
            started = time.perf_counter()
            self.widget.set_live_text(self.text)
            self.renders += 1
            self._last_render_at = time.perf_counter()
            self.last_render_ms = (self._last_render_at - started) * 1000
            self.render_ms.append(self.last_render_ms)
