"""A message's text as a column of prose and code widgets.

Re-setting the text reuses every widget whose segment is unchanged, so a
streaming answer only re-renders its last segment. Text past `DISPLAY_CHARS`
is not laid out (a megabyte takes Qt about a second per width): a note says
how much is left out, and Copy and the exports keep all of it.
"""

from __future__ import annotations

from PySide6.QtWidgets import QVBoxLayout, QWidget

from app.ui.render.markdown import Segment, split_segments
from app.ui.render.text_block import CodeBlock, TextSegment

SegmentWidget = TextSegment | CodeBlock
DISPLAY_CHARS = 100_000  # laid out in ~0.1 s here, whatever the text


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
        self._segments: list[Segment] = []
        self._widgets: list[SegmentWidget] = []
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._layout.setSpacing(6)

    @property
    def segment_widgets(self) -> list[SegmentWidget]:
        return list(self._widgets)

    def set_text(self, text: str) -> None:
        if text == self.text and (text or not self._widgets):
            return
        self.text = text
        shown, note = _shown(text)
        segments = split_segments(shown) if self.markdown else [Segment("plain", shown)]
        if note:
            segments.append(Segment("plain", note))
        for index, segment in enumerate(segments):
            if index < len(self._segments) and self._segments[index] == segment:
                continue
            if index < len(self._widgets) and self._widgets[index].kind == segment.kind:
                self._widgets[index].set_segment(segment)
                continue
            self._truncate(index)
            widget = self._create(segment)
            widget.set_segment(segment)
            self._widgets.append(widget)
            self._layout.addWidget(widget)
        self._truncate(len(segments))
        self._segments = segments

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
