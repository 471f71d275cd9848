"""Issue 17: code, math and Markdown in the chat, as a user sees them (real widgets)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import pytest
from PySide6.QtCore import QUrl
from PySide6.QtGui import QColor, QImage, QPalette, QTextDocument
from PySide6.QtWidgets import QApplication

from app.core.chat.conversations import Message
from app.ui.chat.message_widget import MessageWidget
from app.ui.render.math_image import MathRenderer
from app.ui.render.text_block import CodeBlock, TextSegment

if TYPE_CHECKING:
    from pytestqt.qtbot import QtBot

pytestmark = pytest.mark.qt_log_ignore(r"This plugin does not support propagateSizeHints")
MATH_MS = 60_000  # matplotlib's first import and font scan on a slow machine


def message(text: str, role: str = "assistant") -> Message:
    return Message(id=1, conversation_id=1, position=0, role=role, content=text,
                   created_at=time.time(), backend="local", model="m", outcome="done")  # fmt: skip


def show(qtbot: QtBot, text: str, role: str = "assistant") -> MessageWidget:
    widget = MessageWidget(message(text, role))
    qtbot.addWidget(widget)
    widget.resize(700, 500)
    widget.show()
    return widget


def blocks(widget: MessageWidget) -> list[object]:
    return widget.body.segment_widgets


def coloured_spans(block: CodeBlock) -> dict[str, QColor]:
    """The text of each highlighted span in a code block, and its colour."""
    found: dict[str, QColor] = {}
    doc = block.text.document()
    b = doc.begin()
    while b.isValid():
        for fmt_range in b.layout().formats():
            brush = fmt_range.format.foreground()
            if brush.style() != 0:
                piece = b.text()[fmt_range.start : fmt_range.start + fmt_range.length]
                found[piece] = brush.color()
        b = b.next()
    return found


def test_a_finished_code_block_is_highlighted_with_its_language_and_a_copy_button(
    qtbot: QtBot,
) -> None:
    widget = show(qtbot, "Here:\n\n```python\ndef tide(hour):\n    return 'high'\n```\n")
    code = next(w for w in blocks(widget) if isinstance(w, CodeBlock))
    assert code.language.text() == "python" and code.copy_button.isVisible()
    qtbot.waitUntil(lambda: code.highlighted, timeout=10_000)
    spans = coloured_spans(code)
    assert "def" in spans and "'high'" in spans
    assert spans["def"] != spans["'high'"]  # keyword and string look different
    code.copy()
    assert QApplication.clipboard().text() == "def tide(hour):\n    return 'high'"


def test_a_code_block_still_streaming_stays_plain_until_its_fence_closes(qtbot: QtBot) -> None:
    widget = show(qtbot, "```python\ndef tide(hour):\n")
    code = next(w for w in blocks(widget) if isinstance(w, CodeBlock))
    qtbot.wait(300)
    assert not code.highlighted and coloured_spans(code) == {}
    widget.set_live_text("```python\ndef tide(hour):\n    pass\n```")
    qtbot.waitUntil(lambda: code.highlighted, timeout=10_000)
    assert "def" in coloured_spans(code)


def test_long_code_lines_scroll_sideways_instead_of_wrapping(qtbot: QtBot) -> None:
    line = "x = [" + ", ".join(str(i) for i in range(200)) + "]"
    widget = show(qtbot, f"```python\n{line}\n```")
    code = next(w for w in blocks(widget) if isinstance(w, CodeBlock))
    qtbot.waitUntil(lambda: code.text.horizontalScrollBar().maximum() > 0)
    assert code.text.document().blockCount() == 1
    assert code.text.document().begin().layout().lineCount() == 1  # one line, not wrapped


def test_a_fence_inside_a_list_item_is_a_code_block(qtbot: QtBot) -> None:
    widget = show(qtbot, "1. Install:\n\n    ```bash\n    pip install parley\n    ```\n2. Run it.")
    codes = [w for w in blocks(widget) if isinstance(w, CodeBlock)]
    assert len(codes) == 1 and codes[0].text.source_text == "pip install parley"
    assert codes[0].contentsMargins().left() > 0  # indented with its list item


def test_user_messages_render_markdown_like_answers(qtbot: QtBot) -> None:
    widget = show(qtbot, "Is **this** bold?\n\n```js\nlet a = 1;\n```", role="user")
    prose, code = blocks(widget)
    assert isinstance(prose, TextSegment) and isinstance(code, CodeBlock)
    assert prose.toPlainText().strip() == "Is this bold?"  # no asterisks left
    qtbot.waitUntil(lambda: code.highlighted, timeout=10_000)


def _math_block(widget: MessageWidget) -> TextSegment:
    return next(w for w in blocks(widget) if isinstance(w, TextSegment) and w.math_keys)


def test_math_is_rendered_as_an_image_held_by_the_document(qtbot: QtBot) -> None:
    widget = show(qtbot, r"Energy is $E = mc^2$ and $$\frac{a}{b} \, \sqrt{x}$$ costs $5 or $6.")
    block = _math_block(widget)
    qtbot.waitUntil(lambda: len(block.math_keys) == 2 and all(block.math_keys.values()),
                    timeout=MATH_MS)  # fmt: skip
    doc = block.document()
    for key in block.math_keys:
        image = doc.resource(QTextDocument.ResourceType.ImageResource, QUrl(key.name))
        assert isinstance(image, QImage) and not image.isNull() and image.width() > 10
    text = block.toPlainText()
    assert "mc^2" not in text and "frac" not in text  # drawn, not shown as source
    # One image per formula: Qt's Markdown reader split an image whose alt text held "\,"
    # into three (seen in a screenshot).
    assert text.count("\ufffc") == 2
    assert "$5 or $6" in text  # money stays text


def test_math_that_cannot_be_drawn_shows_its_source_as_code(qtbot: QtBot) -> None:
    widget = show(qtbot, r"A matrix: $\begin{pmatrix} a \end{pmatrix}$ here.")
    block = _math_block(widget)
    renderer = MathRenderer.instance()
    qtbot.waitUntil(lambda: all(renderer.is_known(k) for k in block.math_keys), timeout=MATH_MS)
    qtbot.wait(50)
    assert list(block.math_keys.values()) == [False]
    assert r"$\begin{pmatrix} a \end{pmatrix}$" in block.toPlainText()
    fragment_fonts = []
    b = block.document().begin()
    while b.isValid():
        it = b.begin()
        while not it.atEnd():
            frag = it.fragment()
            if "pmatrix" in frag.text():
                fragment_fonts.append(frag.charFormat().fontFixedPitch())
            it += 1
        b = b.next()
    assert fragment_fonts and all(fragment_fonts)  # shown as code, in a fixed-pitch font


def test_a_dark_palette_gives_dark_code_colours_and_light_math(qtbot: QtBot) -> None:
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    original = app.palette()
    dark = QPalette(original)
    roles = QPalette.ColorRole
    for role, color in ((roles.Base, "#1e1e1e"), (roles.Window, "#2b2b2b"),
                        (roles.Text, "#e6e6e6"), (roles.WindowText, "#e6e6e6")):  # fmt: skip
        dark.setColor(role, QColor(color))
    app.setPalette(dark)
    try:
        widget = show(qtbot, "```python\nreturn 'x'\n```\n\nand $y^2$")
        code = next(w for w in blocks(widget) if isinstance(w, CodeBlock))
        qtbot.waitUntil(lambda: code.highlighted, timeout=10_000)
        assert code.highlighter is not None and code.highlighter.style == "github-dark"
        assert coloured_spans(code)["'x'"].lightness() > 128  # readable on the dark base
        block = _math_block(widget)
        assert {key.color for key in block.math_keys} == {"#e6e6e6"}
    finally:
        app.setPalette(original)
