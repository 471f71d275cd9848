"""Per-conversation settings: project, system prompt and sampling, and for a local model its
load controls (saved per model: they apply to every conversation with it).

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
    QGroupBox,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.core.foundation.errors import ParleyError
from app.core.llm.contract import Sampling
from app.ui.models.controls_form import ModelControlsForm
from app.ui.safe_text import plain_label

if TYPE_CHECKING:
    from collections.abc import Sequence

    from app.core.chat.conversations import Conversation, ConversationStore
    from app.core.local.catalog import InstalledModel
    from app.core.local.fit import ModelShape
    from app.core.local.hardware import Hardware
    from app.core.local.model_controls import ModelControlsStore


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
        local_model: InstalledModel | None = None,
        model_controls: ModelControlsStore | None = None,
        projects: Sequence[str] = (),
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Conversation settings")
        self.setObjectName("conversationSettings")
        self.store = store
        self.conversation_id = conversation.id
        self.model_defaults = model_defaults
        from app.ui.chat.toolbar import ProjectChooser

        self.project = ProjectChooser(self)
        self.project.set_projects(list(projects), conversation.project)
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
        self.local_model = local_model
        self.model_controls = model_controls
        self.model_form: ModelControlsForm | None = None
        self.model_box: QGroupBox | None = None
        if local_model is not None and model_controls is not None:
            # A local model's context is one of its controls; the conversation's own
            # context length applies to cloud models only.
            form.setRowVisible(self.context_length, False)
            self.model_box = QGroupBox(f"Local model: {local_model.name} (all its conversations)")
            self.model_form = ModelControlsForm(self.model_box)
            self.model_form.show_model(local_model, model_controls.get(local_model.name))
            QVBoxLayout(self.model_box).addWidget(self.model_form)
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
        if self.model_box is not None:
            layout.addWidget(self.model_box)
        layout.addWidget(self.error)
        layout.addWidget(buttons)
        self.resize(520, 640 if self.model_box is not None else 360)

    def show_local_model(self, shape: ModelShape | None, hw: Hardware | None) -> None:
        """The local model's shape and this machine, once a worker has read them."""
        if self.model_form is None:
            return
        if hw is not None:
            self.model_form.hardware = hw
        self.model_form.set_shape(shape)

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
            controls = None
            if self.model_form is not None and self.model_form.model is not None:
                controls = self.model_form.controls()
            self.store.set_project(self.conversation_id, self.project.project())
            self.store.set_system_prompt(self.conversation_id, self.system_prompt.toPlainText())
            self.store.set_sampling(self.conversation_id, sampling)
            if controls is not None and self.model_controls and self.local_model:
                self.model_controls.set(self.local_model.name, controls)
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
