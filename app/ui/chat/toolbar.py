"""The conversation's toolbar: its title, where the next turn goes, its project, Local only,
Settings; in two rows when the window is too narrow for one."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QSize, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.ui.chat.elided_label import ElidedLabel
from app.ui.chat.target_picker import TargetPicker
from app.ui.safe_text import plain_tip

if TYPE_CHECKING:
    from PySide6.QtGui import QResizeEvent

TITLE_MIN_WIDTH_PX = 110
SPACING_PX = 8
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
        self._captions = (QLabel("Model", self), QLabel("Project", self))
        self._bar = bar = QVBoxLayout(self)
        bar.setContentsMargins(14, 8, 10, 8)
        bar.setSpacing(6)
        self._top, self._bottom = QHBoxLayout(), QHBoxLayout()
        for row in (self._top, self._bottom):
            row.setSpacing(SPACING_PX)
            bar.addLayout(row)
        self._rows = 0
        self._arrange(1)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        rows = 1 if event.size().width() >= self.one_row_width() else 2
        if rows != self._rows:
            self._arrange(rows)

    def minimumSizeHint(self) -> QSize:
        """As narrow as two rows allow, whatever the rows now: so the window may shrink the bar
        below one row's width, and the bar then takes two."""
        title, model, picker, project, chooser, *buttons = self._row_widgets()
        two_rows = max(self._width_of([title, *buttons]),
                       self._width_of([model, picker, project, chooser]))  # fmt: skip
        hint = super().minimumSizeHint()
        return QSize(min(hint.width(), two_rows), hint.height())

    def one_row_width(self) -> int:
        """The width everything needs side by side; narrower, the bar takes two rows."""
        return self._width_of(self._row_widgets())

    def _width_of(self, widgets: list[QWidget]) -> int:
        needed = sum(max(w.minimumSizeHint().width(), w.minimumWidth()) for w in widgets)
        margins = self._bar.contentsMargins()
        return needed + SPACING_PX * (len(widgets) - 1) + margins.left() + margins.right()

    def _row_widgets(self) -> list[QWidget]:
        model, project = self._captions
        return [self.title, model, self.target_picker, project, self.project_chooser,
                self.local_only_button, self.settings_button, self.compare_button]  # fmt: skip

    def _arrange(self, rows: int) -> None:
        """One row when the bar is wide enough, else the title and buttons above the model and
        the project (squeezed into one row, a narrow window drew them over each other)."""
        for row in (self._top, self._bottom):
            while row.count():
                row.takeAt(0)
        title, model, picker, project, chooser, *buttons = self._row_widgets()
        self._top.addWidget(title, 1)
        choices = self._top if rows == 1 else self._bottom
        for widget in (model, picker, project, chooser):
            choices.addWidget(widget)
        if rows == 2:
            self._bottom.addStretch(1)
        for widget in buttons:
            self._top.addWidget(widget)
        self._rows = rows

    def set_title(self, title: str) -> None:
        self.title.setText(title)
        self.title.setToolTip(plain_tip(title))

    def set_local_only(self, on: bool) -> None:
        """Show the conversation's setting without announcing a change."""
        self.local_only_button.blockSignals(True)
        self.local_only_button.setChecked(on)
        self.local_only_button.blockSignals(False)

    def _on_settings_clicked(self) -> None:
        self.settings_requested.emit()

    def _on_compare_clicked(self) -> None:
        self.compare_requested.emit()
