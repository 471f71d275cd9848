"""The Chat tab's look, built from the palette (app.ui.theme): no fixed text colours.

The rendered messages' blocks come with `app.ui.render`'s own rules; Compare, shown inside
the tab, uses the same sheet."""

from __future__ import annotations

from typing import TYPE_CHECKING

from app.ui.render import render_style
from app.ui.theme import error_color, muted, rgba, warning_color

if TYPE_CHECKING:
    from PySide6.QtGui import QPalette


def chat_style(pal: QPalette) -> str:
    """The tab's style sheet for `pal` (rebuilt when the palette changes)."""
    grey, error, warn = muted(pal).name(), error_color(pal), warning_color(pal)
    line = rgba(muted(pal), 0.35)
    return render_style(pal) + f"""
#messageCanvas {{ background: palette(base); }}
#emptyState {{ color: {grey}; padding: 40px 24px; }}
#userMessage {{
    background: {rgba(pal.highlight().color(), 0.10)};
    border: 1px solid {rgba(pal.highlight().color(), 0.30)};
    border-radius: 10px;
    margin-left: 56px;
}}
#assistantMessage {{
    background: palette(base);
    border: 1px solid {line};
    border-radius: 10px;
    margin-right: 24px;
}}
#author {{ font-weight: 600; }}
#meta, #attachmentLine {{ color: {grey}; font-size: 9pt; }}
#notice {{ border-radius: 6px; padding: 6px 8px; }}
#notice[severity="error"] {{
    color: {error.name()}; background: {rgba(error, 0.10)}; border: 1px solid {rgba(error, 0.35)};
}}
#notice[severity="info"] {{
    color: palette(text); background: {rgba(warn, 0.12)}; border: 1px solid {rgba(warn, 0.40)};
}}
#chatToolbar {{ border-bottom: 1px solid {line}; }}
#conversationTitle {{ font-size: 12pt; font-weight: 600; }}
#errorBanner {{
    color: {error.name()}; background: {rgba(error, 0.10)};
    border: 1px solid {rgba(error, 0.35)}; border-radius: 6px; padding: 6px 10px;
}}
#composer {{ border-top: 1px solid {line}; }}
#sendButton {{ font-weight: 600; padding: 4px 16px; }}
#settingsError {{ color: {error.name()}; }}
#localOnlyButton {{
    padding: 3px 8px; border: 1px solid {line}; border-radius: 4px;
}}
#localOnlyButton:checked {{
    background: {rgba(pal.highlight().color(), 0.20)}; border-color: palette(highlight);
}}
#earlierButton {{ color: palette(link); }}
#costLabel, #contextMeter {{ color: {grey}; }}
#contextMeter[level="full"] {{ color: {warn.name()}; font-weight: 600; }}
#attachmentChip {{
    border: 1px solid {line}; border-radius: 10px; background: {rgba(muted(pal), 0.10)};
}}
#attachmentChip[refused="true"] {{ border-color: {error.name()}; }}
#attachmentWarning {{ color: {error.name()}; }}
#loadProgress {{ max-height: 14px; }}
#folderList {{ border: none; background: transparent; }}
"""
