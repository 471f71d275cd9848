"""The rendered text's look, built from the palette (app.ui.theme): no fixed text colours."""

from __future__ import annotations

from typing import TYPE_CHECKING

from app.ui.theme import muted, rgba

if TYPE_CHECKING:
    from PySide6.QtGui import QPalette


def render_style(pal: QPalette) -> str:
    """Style sheet rules for the text blocks and code blocks of `app.ui.render`."""
    line = rgba(muted(pal), 0.35)
    return f"""
#textBlock, #codeText {{ background: transparent; }}
#codeBlock {{
    background: {rgba(muted(pal), 0.10)};
    border: 1px solid {line};
    border-radius: 6px;
}}
#codeLanguage {{ color: {muted(pal).name()}; font-size: 9pt; }}
"""
