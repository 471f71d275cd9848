"""The line above the message box that says what went wrong, with "Send anyway" when a hard
budget refused the turn."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QWidget

from app.ui.safe_text import plain_label


class ErrorBanner(QWidget):
    """`label` (object name errorBanner) and `override_button`; hidden while both are."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.label = plain_label(QLabel(self))  # provider errors quote what they sent
        self.label.setObjectName("errorBanner")
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.label.hide()
        self.override_button = QPushButton("Send anyway", self)
        self.override_button.setToolTip("Let this one request past the budget")
        self.override_button.hide()
        row = QHBoxLayout(self)
        row.setContentsMargins(12, 6, 12, 0)
        row.addWidget(self.label, 1)
        row.addWidget(self.override_button)
        self.hide()

    def show_error(self, message: str) -> None:
        self.label.setText(message)
        self.label.show()
        self.show()

    def offer_override(self, offered: bool) -> None:
        """Show "Send anyway" (a hard budget refused the turn) or take it away."""
        self.override_button.setVisible(offered)
        self.setVisible(offered or not self.label.isHidden())

    def hide_error(self) -> None:
        self.label.clear()
        self.label.hide()
        self.override_button.hide()
        self.hide()
