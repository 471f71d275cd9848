"""Read-only text views that are exactly as tall as their content.

A `TextBlock` caches its height per width until its text changes: relaying out
the conversation asks every message for its height, at a few different widths
(the column, the message's own layout), and only a changed block pays for a
new text layout. (A one-width cache thrashed between them: 2,000 layouts, 0.66 s,
to insert two messages above 240.)

Code blocks scroll sideways instead of wrapping, and are highlighted (Pygments,
`app.ui.render.highlight`) once their fence has closed. Prose shows math as
images (`app.ui.render.math_image`) added to the document as resources; until an
image is ready, or when it can't be drawn, the formula's source shows as code.
"""

from __future__ import annotations

import functools
import math
import re
from typing import TYPE_CHECKING, Any

import shiboken6
from PySide6.QtCore import QEvent, QSize, Qt, QTimer, QUrl
from PySide6.QtGui import (
    QDesktopServices,
    QFont,
    QFontDatabase,
    QGuiApplication,
    QImage,
    QResizeEvent,
    QTextCharFormat,
    QTextCursor,
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

from app.ui.render.highlight import CodeHighlighter, Highlighting, LineSpans, style_name
from app.ui.render.markdown import find_math
from app.ui.render.math_image import MathKey, MathRenderer
from app.ui.safe_text import data_image
from app.ui.theme import muted

if TYPE_CHECKING:
    from app.ui.render.markdown import MathSpan, Segment, SegmentKind

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
# The formula images one prose block shows (its document holds them): past this, the
# rest show as source. A formula is at most 8 MB (math_image.MAX_PIXELS).
BLOCK_MATH_BYTES = 64 << 20


def _style_tables(doc: QTextDocument) -> None:
    """Markdown tables come out cramped: give their cells room and a thin grid."""
    for frame in doc.rootFrame().childFrames():
        if isinstance(frame, QTextTable):
            fmt = frame.format()
            fmt.setCellPadding(5)
            fmt.setCellSpacing(0)
            fmt.setBorderCollapse(True)
            fmt.setBorder(1)
            fmt.setBorderBrush(muted())
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
            # Code keeps its lines: it scrolls sideways instead of wrapping.
            self.setLineWrapMode(QTextBrowser.LineWrapMode.NoWrap)
            self.setWordWrapMode(QTextOption.WrapMode.NoWrap)
            self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        if kind == "code":
            # A code block is as tall at any width (bar aside): a fixed height the layout
            # caches, where height-for-width would call into Python at every relayout of
            # the message (issue 22: 1,000 code blocks, 50 us each per relayout).
            policy = QSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        else:
            policy = QSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
            policy.setHeightForWidth(True)
        self.setSizePolicy(policy)
        self._bar_shown = False  # code: the height left room for a horizontal scroll bar
        self._source: str | None = None
        self._heights: dict[int, int] = {}  # width -> height, for the current text
        self._revision = 0  # how many texts it has rendered

    @property
    def source_text(self) -> str:
        return self._source or ""

    def set_text(self, text: str, *, force: bool = False) -> None:
        if text == self._source and not force:
            return
        self._source = text
        if self.kind != "code":  # code never wraps (it scrolls sideways)
            self.setWordWrapMode(
                QTextOption.WrapMode.WrapAnywhere
                if LONG_RUN.search(text)
                else QTextOption.WrapMode.WrapAtWordBoundaryOrAnywhere
            )
        if self.kind == "prose":
            self._set_markdown(text)
        else:
            self.setPlainText(text)
        self._heights.clear()
        self._revision += 1
        self.updateGeometry()

    def _set_markdown(self, text: str) -> None:
        self.document().setMarkdown(text, MARKDOWN_FEATURES)
        _style_tables(self.document())

    # Qt overrides ------------------------------------------------------------
    # hasHeightForWidth is the size policy's (true for prose): no Python call per relayout.
    def heightForWidth(self, width: int) -> int:
        if (height := self._heights.get(width)) is not None:
            return height
        doc = self.document()
        if self.kind == "code":
            # Code doesn't wrap: its height is the same at any width, and setting a text
            # width here would fight QTextEdit's own no-wrap layout (a relayout per call).
            height = math.ceil(doc.size().height())
            if doc.idealWidth() > width:
                height += self.horizontalScrollBar().sizeHint().height()  # room for the bar
            self._heights[width] = height
            if width == self.width():
                self._bar_shown = doc.idealWidth() > width
            return height
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

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        if self.kind == "code" and (self.document().idealWidth() > self.width()) != self._bar_shown:
            self.updateGeometry()  # the scroll bar comes or goes: the fixed height changes

    def wheelEvent(self, event: QWheelEvent) -> None:
        delta = event.angleDelta()
        if self.kind == "code" and abs(delta.x()) > abs(delta.y()):
            super().wheelEvent(event)  # sideways: scroll the code
            return
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
        self.highlighter: CodeHighlighter | None = None
        self.highlighted = False  # spans are painted for the text shown
        self._segment: Segment | None = None
        # A block deleted while its code is being lexed: the service lets go of it.
        self.destroyed.connect(functools.partial(_forget_lexing, self))
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
        changed = self._segment is None or self._segment.text != segment.text
        self._segment = segment
        self.language.setText(segment.language or "code")
        # A fence inside a list item: the block sits where the item's text does.
        self.setContentsMargins(min(segment.indent, 12) * 4, 0, 0, 0)
        if changed and self.highlighter is not None:
            self.highlighter.clear_spans()
            self.highlighted = False
        self.text.set_text(segment.text)
        if segment.closed and segment.language and (changed or not self.highlighted):
            Highlighting.instance().request(self, segment.text, segment.language)

    def on_lexed(self, text: str, lines: list[LineSpans] | None) -> None:
        if not shiboken6.isValid(self) or self._segment is None or text != self._segment.text:
            return
        Highlighting.instance().forget(self)
        if lines is None:
            return
        if self.highlighter is None:
            self.highlighter = CodeHighlighter(self.text.document(), style_name())
        self.highlighter.set_spans(lines, style_name())
        self.highlighted = True

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange and self.highlighter is not None:
            style = style_name()
            if style != self.highlighter.style:  # a light theme turned dark, or back
                self.highlighter.set_spans(self.highlighter.lines, style)

    def copy(self) -> None:
        QGuiApplication.clipboard().setText(self.text.source_text)


def _forget_lexing(block: CodeBlock, *_: object) -> None:
    Highlighting.instance().forget(block)


class TextSegment(TextBlock):
    """A prose (Markdown) or plain segment, with the same interface as `CodeBlock`."""

    def __init__(self, kind: SegmentKind, parent: QWidget | None = None) -> None:
        super().__init__(kind, parent)
        self.math_keys: dict[MathKey, bool] = {}  # shown formulas: drawn as an image?
        # The formulas known when last shown: the renderer's bounded cache may drop them,
        # and a block must not ask for them again (blocks would take turns evicting).
        self._held: dict[MathKey, QImage | None] = {}
        self._waiting = False
        # Many blocks may show the same formula: each redraws in its own event, so the
        # event loop runs between them. A child timer dies with the block.
        self._redraw_timer = QTimer(self)
        self._redraw_timer.setSingleShot(True)
        self._redraw_timer.timeout.connect(self._redraw_math)

    def set_segment(self, segment: Segment) -> None:
        self.set_text(segment.text)

    def _set_markdown(self, text: str) -> None:
        spans = find_math(text)
        if not spans:
            self.math_keys, self._held = {}, {}
            super()._set_markdown(text)
            return
        doc = self.document()
        pieces: list[str] = []
        images: list[tuple[str, QImage]] = []
        keys: dict[MathKey, bool] = {}
        held: dict[MathKey, QImage | None] = {}
        waiting = False
        budget = BLOCK_MATH_BYTES
        at = 0
        for span in spans:
            key = self._math_key(span)
            if key in self._held:
                known, image = True, self._held[key]
            else:
                known, image = MathRenderer.instance().lookup(key)
            if known:
                held[key] = image
            if image is not None:
                budget -= image.sizeInBytes()
                image = image if budget >= 0 else None
            waiting = waiting or not known
            keys[key] = image is not None
            pieces.append(text[at : span.start])
            if image is not None:
                images.append((key.name, image))
                ref = f"![{_alt(span.tex)}]({key.name})"
                pieces.append(f"\n\n{ref}\n\n" if span.display else ref)
            else:
                pieces.append(_as_code(text[span.start : span.end]))
            at = span.end
        pieces.append(text[at:])
        self.math_keys, self._held = keys, held
        doc.setMarkdown("".join(pieces), MARKDOWN_FEATURES)
        for name, image in images:
            doc.addResource(QTextDocument.ResourceType.ImageResource, QUrl(name), image)
        inline = {key.name for key, drawn in keys.items() if drawn and not key.display}
        if inline:
            _center_inline_images(doc, inline)
        _style_tables(doc)
        if waiting and not self._waiting:
            self._waiting = True
            MathRenderer.instance().rendered.connect(self._on_math_rendered)

    def _math_key(self, span: MathSpan) -> MathKey:
        font = self.font()
        ratio = self.devicePixelRatioF() or 1.0
        return MathKey(
            span.tex, span.display, font.pointSizeF() if font.pointSizeF() > 0 else 10.0,
            self.palette().text().color().name(), float(self.logicalDpiY() or 96), ratio,
        )  # fmt: skip

    def _on_math_rendered(self, key: MathKey) -> None:
        if key in self.math_keys and not self._redraw_timer.isActive():
            self._redraw_timer.start(0)

    def _redraw_math(self) -> None:
        renderer = MathRenderer.instance()
        known = all(k in self._held or renderer.is_known(k) for k in self.math_keys)
        if known and self._waiting:
            renderer.rendered.disconnect(self._on_math_rendered)
            self._waiting = False
        self.set_text(self.source_text, force=True)

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange and self.math_keys:
            color = self.palette().text().color().name()
            if any(key.color != color for key in self.math_keys):
                self.set_text(self.source_text, force=True)  # formulas in the new colour


def _alt(tex: str) -> str:
    """Alt text Qt's Markdown reader keeps whole: it splits an image at a backslash escape
    in its alt text (one image became three here)."""
    return " ".join(re.sub(r"[^\w\s=+\-*/^().,<>]", " ", tex).split())[:120]


def _center_inline_images(doc: QTextDocument, names: set[str]) -> None:
    """Inline formulas sit on the text's middle, not on its baseline (their depth would
    lift them above the line)."""
    block = doc.begin()
    while block.isValid():
        it = block.begin()
        while not it.atEnd():
            fragment = it.fragment()
            fmt = fragment.charFormat()
            if fmt.isImageFormat() and fmt.toImageFormat().name() in names:
                cursor = QTextCursor(doc)
                cursor.setPosition(fragment.position())
                cursor.setPosition(fragment.position() + fragment.length(),
                                   QTextCursor.MoveMode.KeepAnchor)  # fmt: skip
                image = fmt.toImageFormat()
                image.setVerticalAlignment(QTextCharFormat.VerticalAlignment.AlignMiddle)
                cursor.setCharFormat(image)
            it += 1
        block = block.next()


def _as_code(source: str) -> str:
    """A formula's source as inline code (a fence longer than any backtick run in it)."""
    source = " ".join(source.split())
    run = max((len(part) for part in source.split("`")[1::2]), default=0) + 1
    ticks = "`" * max(1, run if "`" in source else 1)
    return f"{ticks} {source} {ticks}"
