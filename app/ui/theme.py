"""Colours derived from the window's palette, so a dark desktop theme gives a dark Parley.

Nothing in the UI names a text colour of its own: muted text is the text colour
blended into the background, and the accents (errors, warnings, the user's
bubble) are hues mixed with the palette so they read on light and dark alike.
"""

from __future__ import annotations

from PySide6.QtGui import QColor, QGuiApplication, QPalette


def _mix(a: QColor, b: QColor, t: float) -> QColor:
    """`a` moved a fraction `t` of the way to `b`."""
    return QColor(
        round(a.red() + (b.red() - a.red()) * t),
        round(a.green() + (b.green() - a.green()) * t),
        round(a.blue() + (b.blue() - a.blue()) * t),
    )


def palette() -> QPalette:
    return QGuiApplication.palette()


def is_dark(pal: QPalette | None = None) -> bool:
    pal = pal or palette()
    return pal.color(QPalette.ColorRole.Base).lightness() < 128


def text_color(pal: QPalette | None = None) -> QColor:
    return (pal or palette()).color(QPalette.ColorRole.Text)


def muted(pal: QPalette | None = None) -> QColor:
    """Secondary text: the text colour 40 % of the way to the background."""
    pal = pal or palette()
    return _mix(pal.color(QPalette.ColorRole.Text), pal.color(QPalette.ColorRole.Base), 0.4)


def _accent(hue_light: str, hue_dark: str, pal: QPalette | None) -> QColor:
    """A hue for text, readable on the palette's background (lighter on dark themes)."""
    pal = pal or palette()
    base = QColor(hue_dark if is_dark(pal) else hue_light)
    return _mix(base, pal.color(QPalette.ColorRole.Text), 0.15)


def error_color(pal: QPalette | None = None) -> QColor:
    return _accent("#b42318", "#ff8a80", pal)


def warning_color(pal: QPalette | None = None) -> QColor:
    return _accent("#9a6700", "#f5c451", pal)


def rgba(color: QColor, alpha: float) -> str:
    return f"rgba({color.red()}, {color.green()}, {color.blue()}, {alpha:.2f})"
