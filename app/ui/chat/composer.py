"""Where the user writes: a multi-line prompt, Send and Stop, and what sending will cost."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

MIN_LINES = 3
MAX_LINES = 10

if TYPE_CHECKING:
    from PySide6.QtGui import QKeyEvent


class PromptEdit(QPlainTextEdit):
    """The prompt box: Ctrl+Enter sends, Esc stops.

    Signals:
        send_requested
        stop_requested
    """

    send_requested = Signal()
    stop_requested = Signal()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        ctrl = event.modifiers() & Qt.KeyboardModifier.ControlModifier
        if ctrl and event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.send_requested.emit()
        elif event.key() == Qt.Key.Key_Escape:
            self.stop_requested.emit()
        else:
            super().keyPressEvent(event)


class Composer(QFrame):
    """Prompt box and buttons; Send is enabled only for a non-blank prompt when idle.

    Signals:
        send_requested(text)
        stop_requested
    """

    send_requested = Signal(str)
    stop_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("composer")
        self.generating = False
        self.editor = PromptEdit(self)
        self.editor.setObjectName("promptEdit")
        self.editor.setPlaceholderText("Write a message…  (Ctrl+Enter sends, Esc stops)")
        self.editor.setTabChangesFocus(True)
        self.editor.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.editor.textChanged.connect(self._update_buttons)
        self.editor.textChanged.connect(self._fit_height)
        self.editor.send_requested.connect(self.send)
        self.editor.stop_requested.connect(self.stop)
        self.send_button = QPushButton("Send", self)
        self.send_button.setObjectName("sendButton")
        self.send_button.setToolTip("Send (Ctrl+Enter)")
        self.send_button.setDefault(False)
        self.send_button.clicked.connect(self.send)
        self.stop_button = QPushButton("Stop", self)
        self.stop_button.setObjectName("stopButton")
        self.stop_button.setToolTip("Stop the answer, keeping what was written (Esc)")
        self.stop_button.clicked.connect(self.stop)
        # What the next request can cost at most; the chat tab fills it in (off the GUI thread).
        self.cost_label = QLabel(self)
        self.cost_label.setObjectName("costLabel")
        self.cost_label.setWordWrap(True)
        self.cost_label.hide()
        buttons = QVBoxLayout()
        buttons.setSpacing(6)
        buttons.addStretch(1)
        buttons.addWidget(self.stop_button)
        buttons.addWidget(self.send_button)
        column = QVBoxLayout()
        column.setSpacing(4)
        column.addWidget(self.editor)
        column.addWidget(self.cost_label)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(12, 8, 12, 10)
        layout.setSpacing(8)
        layout.addLayout(column, 1)
        layout.addLayout(buttons)
        self._update_buttons()
        self._fit_height()

    def text(self) -> str:
        return self.editor.toPlainText()

    def set_text(self, text: str) -> None:
        self.editor.setPlainText(text)
        self.editor.moveCursor(self.editor.textCursor().MoveOperation.End)

    def show_cost(self, text: str) -> None:
        self.cost_label.setText(text)
        self.cost_label.setVisible(bool(text))

    def set_generating(self, generating: bool) -> None:
        self.generating = generating
        self._update_buttons()

    def send(self) -> None:
        if self.send_button.isEnabled():
            self.send_requested.emit(self.text())

    def stop(self) -> None:
        if self.generating:
            self.stop_requested.emit()

    def _fit_height(self) -> None:
        """Grow with the prompt, from MIN_LINES to MAX_LINES, then scroll."""
        lines = max(MIN_LINES, min(MAX_LINES, int(self.editor.document().size().height())))
        margins = self.editor.contentsMargins()
        frame = 2 * self.editor.document().documentMargin() + margins.top() + margins.bottom()
        height = int(lines * self.editor.fontMetrics().lineSpacing() + frame + 4)
        if height != self.editor.height():
            self.editor.setFixedHeight(height)

    def _update_buttons(self) -> None:
        self.send_button.setEnabled(bool(self.text().strip()) and not self.generating)
        self.stop_button.setEnabled(self.generating)
