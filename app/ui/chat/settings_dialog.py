"""Per-conversation settings: project, system prompt and sampling.

Bad values are reported in the dialog, which stays open with everything the
user typed; nothing is saved until all values are valid.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.core.chat.backend import Sampling
from app.core.foundation.errors import ParleyError
from app.ui.safe_text import plain_label

if TYPE_CHECKING:
    from app.core.chat.conversations import Conversation, ConversationStore


def _number(text: str, name: str, kind: type[float] | type[int]) -> float:
    try:
        return kind(text.strip().replace(",", "."))
    except ValueError:
        noun = "a whole number" if kind is int else "a number"
        raise ParleyError(f"{name} must be {noun}.") from None


class ConversationSettingsDialog(QDialog):
    """Signals:
    saved(conversation_id)
    """

    saved = Signal(int)

    def __init__(
        self,
        store: ConversationStore,
        conversation: Conversation,
        model_defaults: Sampling,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Conversation settings")
        self.setObjectName("conversationSettings")
        self.store = store
        self.conversation_id = conversation.id
        self.model_defaults = model_defaults
        from app.core.chat.projects import ProjectStore
        from app.ui.chat.toolbar import ProjectChooser

        self.project = ProjectChooser(self)
        self.project.set_projects(ProjectStore(store.db).names(), conversation.project)
        self.system_prompt = QPlainTextEdit(conversation.system_prompt, self)
        self.system_prompt.setPlaceholderText("Optional: how the model should behave")
        self.system_prompt.setMinimumHeight(90)
        self.temperature = QLineEdit(self)
        self.top_p = QLineEdit(self)
        self.max_tokens = QLineEdit(self)
        self.context_length = QLineEdit(self)
        self._show_sampling(conversation.sampling)
        self.error = plain_label(QLabel(self))
        self.error.setObjectName("settingsError")
        self.error.setWordWrap(True)
        self.error.hide()
        form = QFormLayout()
        form.addRow("Project", self.project)
        form.addRow("System prompt", self.system_prompt)
        form.addRow("Temperature", self.temperature)
        form.addRow("Top-p", self.top_p)
        form.addRow("Max tokens", self.max_tokens)
        form.addRow("Context length", self.context_length)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel, self
        )
        self.defaults_button = QPushButton("Model defaults", self)
        self.defaults_button.setToolTip("Sampling values suited to this conversation's model")
        buttons.addButton(self.defaults_button, QDialogButtonBox.ButtonRole.ResetRole)
        self.defaults_button.clicked.connect(self.use_model_defaults)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(buttons)
        self.resize(460, 360)

    def sampling(self) -> Sampling:
        """The sampling the fields describe; raises `ParleyError` for bad values."""
        return Sampling(
            temperature=_number(self.temperature.text(), "Temperature", float),
            top_p=_number(self.top_p.text(), "Top-p", float),
            max_tokens=int(_number(self.max_tokens.text(), "Max tokens", int)),
            context_length=int(_number(self.context_length.text(), "Context length", int)),
        ).validated()

    def use_model_defaults(self) -> None:
        self._show_sampling(self.model_defaults)

    def accept(self) -> None:
        try:
            sampling = self.sampling()
            self.store.set_project(self.conversation_id, self.project.project())
            self.store.set_system_prompt(self.conversation_id, self.system_prompt.toPlainText())
            self.store.set_sampling(self.conversation_id, sampling)
        except ParleyError as exc:
            self.error.setText(str(exc))
            self.error.show()
            return
        self.error.hide()
        self.saved.emit(self.conversation_id)
        super().accept()

    def _show_sampling(self, sampling: Sampling) -> None:
        self.temperature.setText(f"{sampling.temperature:g}")
        self.top_p.setText(f"{sampling.top_p:g}")
        self.max_tokens.setText(str(sampling.max_tokens))
        self.context_length.setText(str(sampling.context_length))
