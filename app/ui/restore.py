"""A damaged database at start: offer the newest good backup instead of failing."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from app import APP_NAME
from app.core.foundation import backups

if TYPE_CHECKING:
    from PySide6.QtWidgets import QWidget

    from app.core.foundation.db_errors import CorruptDatabaseError


def offer_restore(error: CorruptDatabaseError, parent: QWidget | None = None) -> str | None:
    """Ask to restore the newest backup; the sentence to show when one was restored,
    None when there is none or the user said no (the damaged file is never touched then)."""
    found = backups.backups(error.path)
    if not found:
        return None
    newest = found[0]
    when = backups.taken_at(newest).strftime("%d %b %Y, %H:%M")
    box = QMessageBox(
        QMessageBox.Icon.Warning,
        f"{APP_NAME}'s database is damaged",
        f"{error.message}\n\nRestore the backup from {when}? Anything saved after it is "
        "not in it. The damaged file is kept beside it, renamed.",
        QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
        parent,
    )
    box.setTextFormat(Qt.TextFormat.PlainText)
    box.button(QMessageBox.StandardButton.Yes).setText("Restore the backup")
    box.button(QMessageBox.StandardButton.No).setText("Quit")
    if box.exec() != QMessageBox.StandardButton.Yes:
        return None
    aside = backups.restore(error.path, newest)
    return f"Restored the backup from {when}; the damaged database is kept as {aside.name}."

