"""Read-only text views that are exactly as tall as their content.

A `TextBlock` caches its height per width until its text changes: relaying out
the conversation asks every message for its height, at a few different widths
(the column, the message's own layout), and only a changed block pays for a
new text layout. (A one-width cache thrashed between them: 2,000 layouts, 0.66 s,
to insert two messages above 240.)
"""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QSize, Qt, QUrl
from PySide6.QtGui import (
    QColor,
    QDesktopServices,
    QFont,
    QFontDatabase,
    QGuiApplication,
    QImage,
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

from app.ui.safe_text import data_image

if TYPE_CHECKING:
    from app.ui.chat.markdown import Segment, SegmentKind

# Model output is Markdown, never HTML: a stray "<tag" must not swallow the rest.
MARKDOWN_FEATURES = QTextDocument.MarkdownFeature(
    QTextDocument.MarkdownFeature.MarkdownDialectGitHub.value
    | QTextDocument.MarkdownFeature.MarkdownNoHTML.value
)

# Qt's word-boundary wrapping is quadratic in the length of an unbreakable run
# (measured here: 100k characters without a space took 2.5 s to lay out, 300k 17 s);
# a block holding such a run wraps anywhere instead (100k: 0.12 s).
LONG_RUN = re.compile(r"\S{400}")
LINK_SCHEMES = ("http", "https")
HEIGHT_CACHE = 8  # widths remembered per text


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
        policy = QSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        policy.setHeightForWidth(True)
        self.setSizePolicy(policy)
        self._source: str | None = None
        self._heights: dict[int, int] = {}  # width -> height, for the current text
        self._revision = 0  # how many texts it has rendered

    @property
    def source_text(self) -> str:
        return self._source or ""

    def set_text(self, text: str) -> None:
        if text == self._source:
            return
        self._source = text
        self.setWordWrapMode(
            QTextOption.WrapMode.WrapAnywhere
            if LONG_RUN.search(text)
            else QTextOption.WrapMode.WrapAtWordBoundaryOrAnywhere
        )
        if self.kind == "prose":
            self.document().setMarkdown(text, MARKDOWN_FEATURES)
            _style_tables(self.document())
        else:
            self.setPlainText(text)
        self._heights.clear()
        self._revision += 1
        self.updateGeometry()

    # Qt overrides ------------------------------------------------------------
    def hasHeightForWidth(self) -> bool:
        return True

    def heightForWidth(self, width: int) -> int:
        if (height := self._heights.get(width)) is not None:
            return height
        doc = self.document()
        # No frame and no scroll bars: the viewport is as wide as the widget,
        # so this is the same text width QTextEdit lays the document out at.
        doc.setTextWidth(max(1, width))
        height = math.ceil(doc.size().height())
        shown = self.viewport().width()
        if shown > 1 and shown != width:  # the probe must not leave the text laid out wrong
            doc.setTextWidth(shown)
        if len(self._heights) >= HEIGHT_CACHE:
            self._heights.pop(next(iter(self._heights)))
        self._heights[width] = height
        return height

    def sizeHint(self) -> QSize:
        width = self.width() if self.width() > 0 else 480
        return QSize(width, self.heightForWidth(width))

    def minimumSizeHint(self) -> QSize:
        return QSize(60, 0)

    def wheelEvent(self, event: QWheelEvent) -> None:
        event.ignore()  # let the conversation's scroll area scroll

    def loadResource(self, type: int, name: QUrl | str) -> Any:
        """Model output never reads a file or the network: only small `data:` images load.

        A null result would make QTextDocument fall back to reading the file itself,
        so every other resource is an empty image, never None.
        """
        url = QUrl(name)
        if type == QTextDocument.ResourceType.ImageResource.value and url.scheme() == "data":
            return data_image(url.toString(QUrl.ComponentFormattingOption.FullyEncoded))
        return QImage()

    def _open_link(self, url: QUrl) -> None:
        # Only on a click (the signal), and only web pages: never file:, smb:, or an app's scheme.
        if url.scheme().lower() in LINK_SCHEMES and url.host():
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
