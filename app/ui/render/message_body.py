"""A message's text as a column of prose and code widgets.

Re-setting the text reuses every widget whose segment is unchanged, so a
streaming answer only re-renders its last segment. Text past `DISPLAY_CHARS`
is not laid out (a megabyte takes Qt about a second per width): a note says
how much is left out, and Copy and the exports keep all of it.

Widgets are made or updated a slice at a time (`SLICE_MS`), the event loop running
between slices: a code block is a few widgets and costs ~1-3 ms to make, and an
answer of 1,000 code blocks held the GUI thread 15.5 s (issue 22).
"""

from __future__ import annotations

import time

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QVBoxLayout, QWidget

from app.ui.render.markdown import Segment, split_segments
from app.ui.render.text_block import CodeBlock, TextSegment

SegmentWidget = TextSegment | CodeBlock
DISPLAY_CHARS = 100_000  # laid out in ~0.1 s here, whatever the text
SLICE_MS = 8.0  # GUI time per event-loop turn spent making segment widgets


def _shown(text: str) -> tuple[str, str]:
    """The part of `text` to render, and the note about the rest ("" when all of it shows)."""
    if len(text) <= DISPLAY_CHARS:
        return text, ""
    rest = len(text) - DISPLAY_CHARS
    return text[:DISPLAY_CHARS], (
        f"… {rest:,} more characters are not shown here. Copy takes the whole message."
    )


class MessageBody(QWidget):
    def __init__(self, markdown: bool, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.markdown = markdown
        self.text = ""
        self._segments: list[Segment] = []  # what each widget shows
        self._widgets: list[SegmentWidget] = []
        self._target: list[Segment] = []  # what they will show once `settled`
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._layout.setSpacing(6)
        self._next_slice = QTimer(self)
        self._next_slice.setSingleShot(True)
        self._next_slice.timeout.connect(self._sync)

    @property
    def segment_widgets(self) -> list[SegmentWidget]:
        return list(self._widgets)

    @property
    def settled(self) -> bool:
        """Every segment of the text has its widget (none left for a later slice)."""
        return not self._next_slice.isActive()

    def set_text(self, text: str) -> None:
        if text == self.text and (text or not self._widgets):
            return
        self.text = text
        shown, note = _shown(text)
        segments = split_segments(shown) if self.markdown else [Segment("plain", shown)]
        if note:
            segments.append(Segment("plain", note))
        self._target = segments
        self._truncate(len(segments))
        self._sync()

    def _sync(self) -> None:
        """Bring the widgets up to `_target`, for one slice; the next slice follows."""
        self._next_slice.stop()
        deadline = time.perf_counter() + SLICE_MS / 1000
        segments = self._target
        for index, segment in enumerate(segments):
            if index < len(self._segments) and self._segments[index] == segment:
                continue
            if time.perf_counter() > deadline:
                self._next_slice.start(0)
                return
            if index < len(self._widgets) and self._widgets[index].kind == segment.kind:
                self._widgets[index].set_segment(segment)
                self._segments[index] = segment
                continue
            self._truncate(index)
            widget = self._create(segment)
            widget.set_segment(segment)
            self._widgets.append(widget)
            self._segments.append(segment)
            self._layout.addWidget(widget)
            self._measure(widget)
        self._truncate(len(segments))

    def _measure(self, widget: SegmentWidget) -> None:
        """Lay the new widget's text out now, inside the slice's time, not in the
        relayout after it (where a slice's worth of new prose took 100 ms)."""
        if isinstance(widget, TextSegment) and self.width() > 0:
            widget.heightForWidth(self.width())
        else:
            widget.sizeHint()

    def prepare_prose(self) -> None:
        """Create an empty prose block now, so the first streamed text only fills it in."""
        if not self._widgets:
            widget = TextSegment("prose", self)
            self._widgets.append(widget)
            self._segments.append(Segment("prose", ""))
            self._layout.addWidget(widget)

    def _create(self, segment: Segment) -> SegmentWidget:
        if segment.kind == "code":
            return CodeBlock(self)
        return TextSegment(segment.kind, self)

    def _truncate(self, count: int) -> None:
        while len(self._widgets) > count:
            widget = self._widgets.pop()
            self._layout.removeWidget(widget)
            widget.deleteLater()
        del self._segments[count:]
