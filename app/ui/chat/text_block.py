"""Read-only text views that are exactly as tall as their content.

A `TextBlock` caches its height per (width, revision): relaying out the
conversation asks every message for its height, and only a changed block
pays for a new text layout.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from PySide6.QtCore import QSize, Qt, QUrl
from PySide6.QtGui import (
    QColor,
    QDesktopServices,
    QFont,
    QFontDatabase,
    QGuiApplication,
    QTextDocument,
    QTextOption,
    QTextTable,
    QWheelEvent,
)
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QTextBrowser,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

if TYPE_CHECKING:
    from app.ui.chat.markdown import Segment, SegmentKind

# Model output is Markdown, never HTML: a stray "<tag" must not swallow the rest.
MARKDOWN_FEATURES = QTextDocument.MarkdownFeature(
    QTextDocument.MarkdownFeature.MarkdownDialectGitHub.value
    | QTextDocument.MarkdownFeature.MarkdownNoHTML.value
)


def _style_tables(doc: QTextDocument) -> None:
    """Markdown tables come out cramped: give their cells room and a thin grid."""
    for frame in doc.rootFrame().childFrames():
        if isinstance(frame, QTextTable):
            fmt = frame.format()
            fmt.setCellPadding(5)
            fmt.setCellSpacing(0)
            fmt.setBorderCollapse(True)
            fmt.setBorder(1)
            fmt.setBorderBrush(QColor(127, 127, 127, 120))
            fmt.setTopMargin(4)
            fmt.setBottomMargin(4)
            frame.setFormat(fmt)


def monospace_font() -> QFont:
    font = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
    font.setStyleHint(QFont.StyleHint.TypeWriter)
    font.setFixedPitch(True)
    return font


class TextBlock(QTextBrowser):
    """Markdown or plain text, no scroll bars, height for width."""

    def __init__(self, kind: SegmentKind, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.kind = kind
        self.setObjectName("codeText" if kind == "code" else "textBlock")
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        self.setOpenLinks(False)
        self.anchorClicked.connect(self._open_link)
        self.document().setDocumentMargin(2)
        if kind == "code":
            self.setFont(monospace_font())
            self.setWordWrapMode(QTextOption.WrapMode.WrapAtWordBoundaryOrAnywhere)
        policy = QSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        policy.setHeightForWidth(True)
        self.setSizePolicy(policy)
        self._source: str | None = None
        self._revision = 0
        self._cached: tuple[int, int, int] | None = None  # width, revision, height

    @property
    def source_text(self) -> str:
        return self._source or ""

    def set_text(self, text: str) -> None:
        if text == self._source:
            return
        self._source = text
        if self.kind == "prose":
            self.document().setMarkdown(text, MARKDOWN_FEATURES)
            _style_tables(self.document())
        else:
            self.setPlainText(text)
        self._revision += 1
        self.updateGeometry()

    # Qt overrides ------------------------------------------------------------
    def hasHeightForWidth(self) -> bool:
        return True

    def heightForWidth(self, width: int) -> int:
        cached = self._cached
        if cached is not None and cached[0] == width and cached[1] == self._revision:
            return cached[2]
        doc = self.document()
        # No frame and no scroll bars: the viewport is as wide as the widget,
        # so this is the same text width QTextEdit lays the document out at.
        doc.setTextWidth(max(1, width))
        height = math.ceil(doc.size().height())
        self._cached = (width, self._revision, height)
        return height

    def sizeHint(self) -> QSize:
        width = self.width() if self.width() > 0 else 480
        return QSize(width, self.heightForWidth(width))

    def minimumSizeHint(self) -> QSize:
        return QSize(60, 0)

    def wheelEvent(self, event: QWheelEvent) -> None:
        event.ignore()  # let the conversation's scroll area scroll

    def _open_link(self, url: QUrl) -> None:
        if url.scheme() in ("http", "https", "mailto"):
            QDesktopServices.openUrl(url)


class CodeBlock(QFrame):
    """A fenced code block: language, a Copy button, monospace text."""

    kind: SegmentKind = "code"

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("codeBlock")
        self.language = QLabel(self)
        self.language.setObjectName("codeLanguage")
        self.copy_button = QToolButton(self)
        self.copy_button.setText("Copy")
        self.copy_button.setToolTip("Copy this code")
        self.copy_button.setAutoRaise(True)
        self.copy_button.clicked.connect(self.copy)
        self.text = TextBlock("code", self)
        header = QHBoxLayout()
        header.setContentsMargins(10, 2, 4, 2)
        header.addWidget(self.language)
        header.addStretch(1)
        header.addWidget(self.copy_button)
        layout = QVBoxLayout(self)
        layout.setSpacing(0)
        layout.addLayout(header)
        layout.addWidget(self.text)
        layout.setContentsMargins(1, 1, 1, 1)

    def set_segment(self, segment: Segment) -> None:
        self.language.setText(segment.language or "code")
        self.text.set_text(segment.text)

    def copy(self) -> None:
        QGuiApplication.clipboard().setText(self.text.source_text)


class TextSegment(TextBlock):
    """A prose (Markdown) or plain segment, with the same interface as `CodeBlock`."""

    def set_segment(self, segment: Segment) -> None:
        self.set_text(segment.text)
