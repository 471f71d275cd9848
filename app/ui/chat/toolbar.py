"""The conversation's toolbar: its title, where the next turn goes, its project, Local only,
Settings."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QToolButton,
    QWidget,
)

from app.ui.chat.elided_label import ElidedLabel
from app.ui.chat.target_picker import TargetPicker

TITLE_MIN_WIDTH_PX = 110
NO_PROJECT = "No project"


class ProjectChooser(QComboBox):
    """An editable list of projects: pick one, type a new name, or "No project".

    Signals:
        project_chosen(name): "" for no project
    """

    project_chosen = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("projectChooser")
        self.setEditable(True)
        self.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.setMinimumContentsLength(10)
        self.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.setToolTip("The project this conversation's spend belongs to (budgets, Billing, "
                        "CSV). Type a new name to start one.")  # fmt: skip
        line = self.lineEdit()
        assert line is not None
        line.setPlaceholderText(NO_PROJECT)
        self._shown = ""
        self.activated.connect(self._on_activated)
        line.editingFinished.connect(self._on_edited)

    def set_projects(self, names: list[str], current: str | None) -> None:
        """Show `names` with `current` selected, without announcing a change."""
        self.blockSignals(True)
        try:
            self.clear()
            self.addItem(NO_PROJECT, "")
            for name in names:
                self.addItem(name, name)
            self._shown = current or ""
            self.setCurrentIndex(max(0, self.findData(self._shown)) if self._shown else 0)
            self.setEditText(self._shown)
        finally:
            self.blockSignals(False)

    def project(self) -> str:
        text = self.currentText().strip()
        return "" if text == NO_PROJECT else text

    def _on_activated(self, index: int) -> None:
        self.setEditText(str(self.itemData(index) or ""))
        self._on_edited()

    def _on_edited(self) -> None:
        name = self.project()
        if name != self._shown:
            self._shown = name
            self.project_chosen.emit(name)


class ConversationToolbar(QFrame):
    """Signals:
    target_chosen(target): `backend:model` for the next turn
    local_only_toggled(on)
    settings_requested
    providers_requested: "Add provider…" in the model control
    compare_requested
    project_chosen(name): "" for no project
    """

    target_chosen = Signal(str)
    local_only_toggled = Signal(bool)
    settings_requested = Signal()
    providers_requested = Signal()
    compare_requested = Signal()
    project_chosen = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("chatToolbar")
        self.title = ElidedLabel(self)
        self.title.setObjectName("conversationTitle")
        self.title.setMinimumWidth(TITLE_MIN_WIDTH_PX)  # narrow windows elide the model name too
        self.target_picker = TargetPicker(self)
        self.target_picker.target_chosen.connect(self.target_chosen)
        self.target_picker.add_provider_requested.connect(self.providers_requested)
        self.project_chooser = ProjectChooser(self)
        self.project_chooser.project_chosen.connect(self.project_chosen)
        self.local_only_button = QToolButton(self)
        self.local_only_button.setObjectName("localOnlyButton")
        self.local_only_button.setText("Local only")
        self.local_only_button.setCheckable(True)
        self.local_only_button.setToolTip(
            "Keep this conversation on this machine: Parley will not send it to a cloud "
            "provider while this is on."
        )
        self.local_only_button.toggled.connect(self.local_only_toggled)
        self.settings_button = QPushButton("Settings", self)
        self.settings_button.setToolTip("System prompt and sampling of this conversation")
        self.settings_button.clicked.connect(self._on_settings_clicked)
        self.compare_button = QPushButton("Compare…", self)
        self.compare_button.setToolTip(
            "Send one prompt to several models side by side: speed, cost and answers"
        )
        self.compare_button.clicked.connect(self._on_compare_clicked)
        bar = QHBoxLayout(self)
        bar.setContentsMargins(14, 8, 10, 8)
        bar.setSpacing(8)
        bar.addWidget(self.title, 1)
        bar.addWidget(QLabel("Model", self))
        bar.addWidget(self.target_picker)
        bar.addWidget(QLabel("Project", self))
        bar.addWidget(self.project_chooser)
        bar.addWidget(self.local_only_button)
        bar.addWidget(self.settings_button)
        bar.addWidget(self.compare_button)

    def set_title(self, title: str) -> None:
        self.title.setText(title)
        self.title.setToolTip(title)

    def set_local_only(self, on: bool) -> None:
        """Show the conversation's setting without announcing a change."""
        self.local_only_button.blockSignals(True)
        self.local_only_button.setChecked(on)
        self.local_only_button.blockSignals(False)

    def _on_settings_clicked(self) -> None:
        self.settings_requested.emit()

    def _on_compare_clicked(self) -> None:
        self.compare_requested.emit()
