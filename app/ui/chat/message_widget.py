"""One message in the conversation: its text, attachments, actions (buttons and a context
menu: copy, edit, fork, regenerate, export, delete), and (for answers) what it cost; while a
local model loads for it, a progress bar with percent."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QPoint, Qt, Signal
from PySide6.QtGui import QContextMenuEvent, QGuiApplication, QKeyEvent
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QMenu,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.core.llm.contract import Outcome
from app.ui.chat.view_model import attachment_line, meta_line, notice_text
from app.ui.render.message_body import MessageBody
from app.ui.safe_text import plain_label

if TYPE_CHECKING:
    from app.core.chat.conversations import Message


def _tool_button(text: str, tip: str, parent: QWidget) -> QToolButton:
    button = QToolButton(parent)
    button.setText(text)
    button.setToolTip(tip)
    button.setAutoRaise(True)
    button.setCursor(Qt.CursorShape.PointingHandCursor)
    return button


class EditBox(QPlainTextEdit):
    """The inline editor of a user message.

    Signals:
        submit_requested: Ctrl+Enter
        cancel_requested: Esc
    """

    submit_requested = Signal()
    cancel_requested = Signal()

    def event(self, event: QEvent) -> bool:
        # Esc cancels the edit here, rather than triggering the tab's Stop shortcut.
        if (
            event.type() == QEvent.Type.ShortcutOverride
            and isinstance(event, QKeyEvent)
            and event.key() == Qt.Key.Key_Escape
        ):
            event.accept()
            return True
        return super().event(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        ctrl = event.modifiers() & Qt.KeyboardModifier.ControlModifier
        if ctrl and event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.submit_requested.emit()
        elif event.key() == Qt.Key.Key_Escape:
            self.cancel_requested.emit()
        else:
            super().keyPressEvent(event)


class MessageWidget(QFrame):
    """A user message or an answer.

    Signals:
        resend_requested(message_id, text): the user edited their message and sent it
        regenerate_requested: answer the last question again
        fork_requested(message_id): a new conversation with everything up to this message
        export_requested: export the conversation
        delete_requested: delete the conversation (after the user confirmed)
    """

    resend_requested = Signal(int, str)
    regenerate_requested = Signal()
    fork_requested = Signal(int)
    export_requested = Signal()
    delete_requested = Signal()

    def __init__(self, message: Message, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.role = message.role
        self.is_user = message.role == "user"
        self.setObjectName("userMessage" if self.is_user else "assistantMessage")
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.message: Message | None = None
        # The model name comes from the provider: shown as text, never as HTML.
        self.author = plain_label(QLabel("You" if self.is_user else "Assistant", self))
        self.author.setObjectName("author")
        self.copy_button = _tool_button("Copy", "Copy this message", self)
        self.copy_button.clicked.connect(self.copy)
        self.edit_button = _tool_button("Edit", "Edit this message and send it again", self)
        self.edit_button.clicked.connect(self.start_edit)
        self.edit_button.setVisible(self.is_user)
        self.regenerate_button = _tool_button("Regenerate", "Write this answer again", self)
        self.regenerate_button.clicked.connect(self._on_regenerate_clicked)
        self.regenerate_button.hide()
        self.fork_button = _tool_button(
            "Fork", "Start a new conversation with everything up to here", self
        )
        self.fork_button.clicked.connect(self._on_fork_clicked)
        header = QHBoxLayout()
        header.setSpacing(2)
        header.addWidget(self.author)
        header.addStretch(1)
        for button in (self.edit_button, self.regenerate_button, self.fork_button,
                       self.copy_button):  # fmt: skip
            header.addWidget(button)
        self.body = MessageBody(markdown=True, parent=self)  # yours render like answers
        self.attachments = plain_label(QLabel(self))
        self.attachments.setObjectName("attachmentLine")
        self.attachments.setWordWrap(True)
        self.attachments.hide()
        self.load_bar = QProgressBar(self)
        self.load_bar.setObjectName("loadProgress")
        self.load_bar.setRange(0, 100)
        self.load_bar.setFormat("Loading model… %p%")
        self.load_bar.setToolTip("Stop (Esc) cancels the load")
        self.load_bar.hide()
        self._can_regenerate = False
        self.notice = plain_label(QLabel(self))
        self.notice.setObjectName("notice")
        self.notice.setWordWrap(True)
        self.notice.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.notice.hide()
        self.meta = plain_label(QLabel(self))
        self.meta.setObjectName("meta")
        self.meta.setWordWrap(True)
        self.meta.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.meta.setVisible(not self.is_user)
        self.editor: EditBox | None = None
        self.editor_row: QWidget | None = None
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(14, 8, 14, 10)
        self._layout.setSpacing(4)
        self._layout.addLayout(header)
        self._layout.addWidget(self.body)
        self._layout.addWidget(self.attachments)
        self._layout.addWidget(self.load_bar)
        self._layout.addWidget(self.notice)
        self._layout.addWidget(self.meta)
        self.set_message(message)

    @property
    def text(self) -> str:
        return self.body.text

    def set_message(self, message: Message) -> None:
        """Show `message`; only a changed text is rendered again."""
        if message == self.message:
            return
        self.message = message
        self.body.set_text(message.content)
        line = attachment_line(message)
        self.attachments.setText(line)
        self.attachments.setVisible(bool(line))
        if not self.is_user:
            self.author.setText(message.model or "Assistant")
            self.meta.setText(meta_line(message))
            notice = notice_text(message)
            self.notice.setText(notice)
            self.notice.setVisible(bool(notice))
            is_error = message.outcome in (Outcome.ERROR, Outcome.INTERRUPTED)
            self.notice.setProperty("severity", "error" if is_error else "info")
            self.notice.style().unpolish(self.notice)
            self.notice.style().polish(self.notice)

    def set_live_text(self, text: str) -> None:
        """Streaming: new text for the body, without touching the rest."""
        self.body.set_text(text)

    def set_actions(self, *, can_edit: bool, can_regenerate: bool) -> None:
        self.edit_button.setEnabled(can_edit)
        self.regenerate_button.setVisible(can_regenerate)
        self._can_regenerate = can_regenerate
        # Forking copies stored messages: not while this one is being written.
        self.fork_button.setEnabled(self._saved and can_edit)

    @property
    def _saved(self) -> bool:
        return self.message is not None and self.message.id > 0

    def show_loading(self, model: str, fraction: float | None) -> None:
        """While the model loads: "loading model" and a bar with percent (None: done)."""
        if fraction is None:
            self.load_bar.hide()
            if self.message is not None:
                self.meta.setText(meta_line(self.message))
            return
        self.load_bar.setValue(round(fraction * 100))
        self.load_bar.setFormat(f"Loading {model}… %p%")
        self.load_bar.show()
        self.meta.setText(f"local · {model} · loading model…")

    def _on_regenerate_clicked(self) -> None:
        self.regenerate_requested.emit()

    def _on_fork_clicked(self) -> None:
        if self.message is not None and self.message.id > 0:
            self.fork_requested.emit(self.message.id)

    def context_menu(self) -> QMenu:
        """Copy, edit, fork, regenerate, export, delete: the actions this message allows."""
        menu = QMenu(self)
        menu.addAction("Copy message", self.copy)
        if self.is_user:
            edit = menu.addAction("Edit and resend…", self.start_edit)
            edit.setEnabled(self.edit_button.isEnabled())
        fork = menu.addAction("Fork from here", self._on_fork_clicked)
        fork.setEnabled(self.fork_button.isEnabled())
        if not self.is_user:
            regenerate = menu.addAction("Regenerate", self._on_regenerate_clicked)
            regenerate.setEnabled(self._can_regenerate)
        menu.addSeparator()
        menu.addAction("Export conversation…", self.export_requested.emit)
        menu.addAction("Delete conversation…", self.delete_requested.emit)
        return menu

    def contextMenuEvent(self, event: QContextMenuEvent) -> None:
        menu = self.context_menu()
        menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        menu.popup(event.globalPos() if event is not None else self.mapToGlobal(QPoint()))

    def copy(self) -> None:
        QGuiApplication.clipboard().setText(self.body.text)

    # editing -----------------------------------------------------------------
    def start_edit(self) -> None:
        if self.editor is None:
            self._build_editor()
        assert self.editor is not None
        assert self.editor_row is not None
        self.editor.setPlainText(self.body.text)
        self.body.hide()
        self.editor.show()
        self.editor_row.show()
        self.editor.setFocus()

    def cancel_edit(self) -> None:
        if self.editor is not None and self.editor_row is not None:
            self.editor.hide()
            self.editor_row.hide()
        self.body.show()

    def submit_edit(self) -> None:
        if self.editor is None or self.message is None:
            return
        text = self.editor.toPlainText()
        if not text.strip() or not self.edit_button.isEnabled():
            return
        self.cancel_edit()
        self.resend_requested.emit(self.message.id, text)

    def _build_editor(self) -> None:
        self.editor = EditBox(self)
        self.editor.setObjectName("editBox")
        self.editor.setMinimumHeight(70)
        self.editor.setMaximumHeight(200)
        self.editor.submit_requested.connect(self.submit_edit)
        self.editor.cancel_requested.connect(self.cancel_edit)
        self.editor_row = QWidget(self)
        row = QHBoxLayout(self.editor_row)
        row.setContentsMargins(0, 0, 0, 0)
        row.addStretch(1)
        cancel = QPushButton("Cancel", self.editor_row)
        cancel.clicked.connect(self.cancel_edit)
        send = QPushButton("Send", self.editor_row)
        send.setObjectName("resendButton")
        send.setToolTip("Send the edited message; later messages are replaced (Ctrl+Enter)")
        send.clicked.connect(self.submit_edit)
        row.addWidget(cancel)
        row.addWidget(send)
        index = self._layout.indexOf(self.body)
        self._layout.insertWidget(index + 1, self.editor)
        self._layout.insertWidget(index + 2, self.editor_row)
