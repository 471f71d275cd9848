"""Syntax highlighting for finished code blocks, with Pygments, off the GUI thread.

Pygments lexes ~100k characters a second here (a 10k-character block takes
~90 ms), so lexing runs on a Qt thread-pool thread and the spans come back
as data; a `QSyntaxHighlighter` paints them. Colours come from a Pygments
style that suits the palette: "default" on a light background, "github-dark"
on a dark one. A language Pygments doesn't know stays plain.
"""

from __future__ import annotations

import functools
import logging
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal
from PySide6.QtGui import QColor, QFont, QSyntaxHighlighter, QTextCharFormat

from app.ui.theme import is_dark

if TYPE_CHECKING:
    from PySide6.QtGui import QTextDocument

logger = logging.getLogger(__name__)

LIGHT_STYLE, DARK_STYLE = "default", "github-dark"
# Per line: (start, length, token type) triples.
LineSpans = list[tuple[int, int, Any]]
ALIASES = {"py": "python", "js": "javascript", "ts": "typescript", "sh": "bash", "shell": "bash",
           "console": "bash", "c++": "cpp", "rs": "rust", "yml": "yaml"}  # fmt: skip


def style_name() -> str:
    """The application palette decides (a code block's own background is a translucent
    tint that would read as dark on any theme)."""
    return DARK_STYLE if is_dark() else LIGHT_STYLE


def lex(text: str, language: str) -> list[LineSpans] | None:
    """Token spans per line of `text`, or None when Pygments knows no such language."""
    from pygments.lexers import get_lexer_by_name
    from pygments.util import ClassNotFound

    name = ALIASES.get(language.lower(), language.lower())
    try:
        lexer = get_lexer_by_name(name, stripnl=False, ensurenl=False)
    except ClassNotFound:
        return None
    lines: list[LineSpans] = [[]]
    column = 0
    for ttype, value in lexer.get_tokens(text):
        pieces = value.split("\n")
        for i, piece in enumerate(pieces):
            if i:
                lines.append([])
                column = 0
            if piece:
                lines[-1].append((column, len(piece), ttype))
                column += len(piece)
    return lines


@functools.cache
def _formats(style: str) -> dict[Any, QTextCharFormat]:
    from pygments.styles import get_style_by_name

    formats: dict[Any, QTextCharFormat] = {}
    for ttype, spec in get_style_by_name(style):
        fmt = QTextCharFormat()
        if spec["color"]:
            fmt.setForeground(QColor(f"#{spec['color']}"))
        if spec["bold"]:
            fmt.setFontWeight(QFont.Weight.Bold)
        if spec["italic"]:
            fmt.setFontItalic(True)
        formats[ttype] = fmt
    return formats


def format_for(style: str, ttype: Any) -> QTextCharFormat | None:
    """The style's format for a token type, or None where the style leaves it plain.
    Pygments styles already resolve inheritance from parent token types."""
    fmt = _formats(style).get(ttype)
    if fmt is None or not fmt.properties():
        return None
    return fmt


class CodeHighlighter(QSyntaxHighlighter):
    """Paints precomputed Pygments spans on a code block's document."""

    def __init__(self, document: QTextDocument, style: str) -> None:
        super().__init__(document)
        self.style = style
        self.lines: list[LineSpans] = []

    def set_spans(self, lines: list[LineSpans], style: str) -> None:
        self.lines = lines
        self.style = style
        self.rehighlight()

    def clear_spans(self) -> None:
        if self.lines:
            self.lines = []
            self.rehighlight()

    def highlightBlock(self, text: str) -> None:
        number = self.currentBlock().blockNumber()
        if number >= len(self.lines):
            return
        for start, length, ttype in self.lines[number]:
            fmt = format_for(self.style, ttype)
            if fmt is not None:
                self.setFormat(start, length, fmt)


class LexReceiver(Protocol):
    """What asks for highlighting: told the spans for the text it sent (None: plain)."""

    def on_lexed(self, text: str, lines: list[LineSpans] | None) -> None: ...


class _LexJob(QRunnable):
    def __init__(self, service: Highlighting, token: int, text: str, language: str) -> None:
        super().__init__()
        self.service, self.token, self.text, self.language = service, token, text, language

    def run(self) -> None:
        try:
            lines = lex(self.text, self.language)
        except Exception:
            logger.exception("highlighting %s failed", self.language)
            lines = None
        self.service.lexed.emit(self.token, self.text, lines)


class Highlighting(QObject):
    """Lexes code blocks one at a time on a pool thread; each result goes to the one
    receiver that asked (issue 22: a signal every block listened to made 1,000 code
    blocks a million slot calls).

    Signals:
        lexed(token, text, lines): internal, from the pool thread
    """

    lexed = Signal(object, str, object)  # token: an id(), wider than a C int
    _instance: ClassVar[Highlighting | None] = None

    def __init__(self) -> None:
        super().__init__()
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        self._receivers: dict[int, LexReceiver] = {}
        self.lexed.connect(self._on_lexed)

    @classmethod
    def instance(cls) -> Highlighting:
        if cls._instance is None:
            cls._instance = Highlighting()
        return cls._instance

    def request(self, receiver: LexReceiver, text: str, language: str) -> None:
        """Lex `text`; `receiver.on_lexed` gets the spans (a later request replaces it)."""
        token = id(receiver)
        self._receivers[token] = receiver
        self._pool.start(_LexJob(self, token, text, language))

    def forget(self, receiver: LexReceiver) -> None:
        """`receiver` wants no more results (it is done, or going away)."""
        self._receivers.pop(id(receiver), None)

    def _on_lexed(self, token: int, text: str, lines: object) -> None:
        receiver = self._receivers.get(token)
        if receiver is not None:
            receiver.on_lexed(text, lines if isinstance(lines, list) else None)

    def wait_idle(self, timeout_ms: int = 30_000) -> bool:
        return bool(self._pool.waitForDone(timeout_ms))
