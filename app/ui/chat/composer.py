"""Where the user writes: a multi-line prompt, files attached to it (dropped or picked, shown
as chips with their token counts), Send and Stop, and under it how full the context will be
and what sending will cost."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QMimeData, Qt, Signal
from PySide6.QtWidgets import (
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.ui.locale_format import number

MIN_LINES = 3
MAX_LINES = 10

if TYPE_CHECKING:
    from PySide6.QtGui import QDragEnterEvent, QDropEvent, QKeyEvent

    from app.core.chat.attachments import Attachment

FILE_FILTER = (
    "Text, code, PDFs and images (*.txt *.md *.py *.js *.ts *.json *.csv *.html *.css *.c "
    "*.h *.cpp *.rs *.go *.java *.kt *.rb *.php *.sh *.toml *.yaml *.yml *.xml *.sql *.pdf "
    "*.png *.jpg *.jpeg *.gif *.webp);;All files (*)"
)


def _local_files(mime: QMimeData) -> list[str]:
    if not mime.hasUrls():
        return []
    return [url.toLocalFile() for url in mime.urls() if url.isLocalFile()]


class PromptEdit(QPlainTextEdit):
    """The prompt box: Ctrl+Enter sends, Esc stops; dropped files become attachments.

    Signals:
        send_requested
        stop_requested
        files_dropped(paths)
    """

    send_requested = Signal()
    stop_requested = Signal()
    files_dropped = Signal(list)

    def canInsertFromMimeData(self, source: QMimeData) -> bool:
        return bool(_local_files(source)) or super().canInsertFromMimeData(source)

    def insertFromMimeData(self, source: QMimeData) -> None:
        files = _local_files(source)
        if files:
            self.files_dropped.emit(files)  # attach them, don't paste their paths
        else:
            super().insertFromMimeData(source)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        ctrl = event.modifiers() & Qt.KeyboardModifier.ControlModifier
        if ctrl and event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.send_requested.emit()
        elif event.key() == Qt.Key.Key_Escape:
            self.stop_requested.emit()
        else:
            super().keyPressEvent(event)


class AttachmentChip(QFrame):
    """One attached file: its name, tokens, and a button that removes it.

    Signals:
        remove_requested(chip)
    """

    remove_requested = Signal(object)

    def __init__(self, attachment: Attachment, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("attachmentChip")
        self.attachment = attachment
        what = "image" if attachment.is_image else f"≈{number(attachment.tokens)} tokens"
        self.label = QLabel(f"{attachment.name} · {what}", self)
        self.setToolTip(f"{attachment.name}: sent with your message"
                        + ("" if attachment.is_image else " as a fenced block"))  # fmt: skip
        self.remove_button = QToolButton(self)
        self.remove_button.setText("✕")
        self.remove_button.setAutoRaise(True)
        self.remove_button.setToolTip(f"Remove {attachment.name}")
        self.remove_button.clicked.connect(lambda: self.remove_requested.emit(self))
        row = QHBoxLayout(self)
        row.setContentsMargins(8, 1, 2, 1)
        row.setSpacing(2)
        row.addWidget(self.label)
        row.addWidget(self.remove_button)


class Composer(QFrame):
    """Prompt box, attachments and buttons; Send is enabled for a non-blank prompt (or
    attachments) when idle.

    Signals:
        send_requested(text)
        stop_requested
        files_chosen(paths): files dropped on the box or picked with Attach
        attachments_changed
    """

    send_requested = Signal(str)
    stop_requested = Signal()
    files_chosen = Signal(list)
    attachments_changed = Signal()

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
        self.editor.files_dropped.connect(self.files_chosen)
        self.setAcceptDrops(True)
        self.attachments: list[Attachment] = []
        self.chips: list[AttachmentChip] = []
        self.chip_row = QHBoxLayout()
        self.chip_row.setSpacing(4)
        self.chip_row.addStretch(1)
        self.attach_button = QToolButton(self)
        self.attach_button.setText("Attach…")
        self.attach_button.setToolTip("Attach text or code files, PDFs or images (or drop them "
                                      "on the message box)")  # fmt: skip
        self.attach_button.clicked.connect(self.pick_files)
        self.file_dialog: QFileDialog | None = None
        self.attachment_warning = QLabel(self)
        self.attachment_warning.setObjectName("attachmentWarning")
        self.attachment_warning.setWordWrap(True)
        self.attachment_warning.hide()
        # How full the context will be; the chat tab fills it in (off the GUI thread).
        self.meter_label = QLabel(self)
        self.meter_label.setObjectName("contextMeter")
        self.meter_label.hide()
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
        buttons.addWidget(self.attach_button)
        buttons.addWidget(self.stop_button)
        buttons.addWidget(self.send_button)
        column = QVBoxLayout()
        column.setSpacing(4)
        column.addLayout(self.chip_row)
        column.addWidget(self.editor)
        column.addWidget(self.attachment_warning)
        figures = QHBoxLayout()
        figures.setSpacing(12)
        figures.addWidget(self.meter_label)
        figures.addWidget(self.cost_label, 1)
        column.addLayout(figures)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(12, 8, 12, 10)
        layout.setSpacing(8)
        layout.addLayout(column, 1)
        layout.addLayout(buttons)
        self._update_buttons()
        self._fit_height()

    def text(self) -> str:
        return self.editor.toPlainText()

    def focus_editor(self) -> None:
        """Put the keyboard focus in the message box."""
        self.editor.setFocus(Qt.FocusReason.OtherFocusReason)

    def set_text(self, text: str) -> None:
        self.editor.setPlainText(text)
        self.editor.moveCursor(self.editor.textCursor().MoveOperation.End)

    def show_cost(self, text: str) -> None:
        self.cost_label.setText(text)
        self.cost_label.setVisible(bool(text))

    def show_meter(self, text: str, *, full: bool = False, tip: str = "") -> None:
        """The context meter's line; `full` (amber) when older turns will be left out."""
        self.meter_label.setText(text)
        self.meter_label.setToolTip(tip)
        self.meter_label.setVisible(bool(text))
        if self.meter_label.property("level") != ("full" if full else "ok"):
            self.meter_label.setProperty("level", "full" if full else "ok")
            self.meter_label.style().unpolish(self.meter_label)
            self.meter_label.style().polish(self.meter_label)

    def show_attachment_warning(self, text: str) -> None:
        """Say before sending that the target can't take what is attached ("" clears)."""
        self.attachment_warning.setText(text)
        self.attachment_warning.setVisible(bool(text))
        for chip in self.chips:
            refused = bool(text) and chip.attachment.is_image
            if chip.property("refused") != refused:
                chip.setProperty("refused", refused)
                chip.style().unpolish(chip)
                chip.style().polish(chip)
        self._update_buttons()

    # attachments -------------------------------------------------------------------
    def add_attachments(self, attachments: list[Attachment]) -> None:
        for attachment in attachments:
            chip = AttachmentChip(attachment, self)
            chip.remove_requested.connect(self._remove_chip)
            self.attachments.append(attachment)
            self.chips.append(chip)
            self.chip_row.insertWidget(self.chip_row.count() - 1, chip)
        self._attachments_changed()

    def clear_attachments(self) -> None:
        for chip in self.chips:
            chip.deleteLater()
        self.chips.clear()
        self.attachments.clear()
        self.attachment_warning.hide()
        self._attachments_changed()

    def take_attachments(self) -> tuple[Attachment, ...]:
        """What is attached, handed to the message being sent; the box is cleared."""
        taken = tuple(self.attachments)
        self.clear_attachments()
        return taken

    def pick_files(self) -> None:
        dialog = QFileDialog(self, "Attach files")
        dialog.setFileMode(QFileDialog.FileMode.ExistingFiles)
        dialog.setNameFilter(FILE_FILTER)
        dialog.filesSelected.connect(self.files_chosen)
        dialog.finished.connect(dialog.deleteLater)
        self.file_dialog = dialog
        dialog.open()  # not exec(): the event loop keeps running

    def _remove_chip(self, chip: AttachmentChip) -> None:
        if chip in self.chips:
            index = self.chips.index(chip)
            self.chips.pop(index)
            self.attachments.pop(index)
            chip.deleteLater()
            self._attachments_changed()

    def _attachments_changed(self) -> None:
        self._update_buttons()
        self.attachments_changed.emit()

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if _local_files(event.mimeData()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        files = _local_files(event.mimeData())
        if files:
            event.acceptProposedAction()
            self.files_chosen.emit(files)

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
        has_content = bool(self.text().strip()) or bool(getattr(self, "attachments", None))
        refused = getattr(self, "attachment_warning", None)
        blocked = refused is not None and bool(refused.text()) and not refused.isHidden()
        self.send_button.setEnabled(has_content and not self.generating and not blocked)
        self.stop_button.setEnabled(self.generating)
