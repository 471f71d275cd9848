"""The one control that says where the next turn goes: local models and providers, grouped."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont, QStandardItem, QStandardItemModel
from PySide6.QtWidgets import QComboBox, QSizePolicy, QWidget

if TYPE_CHECKING:
    from app.core.targets import TargetOption

TARGET_ROLE = Qt.ItemDataRole.UserRole
ACTION_ROLE = TARGET_ROLE + 1
ADD_PROVIDER = "add-provider"


class TargetPicker(QComboBox):
    """Options grouped under headers; unavailable ones are disabled with the reason as tooltip.

    Signals:
        target_chosen(target): the user picked `backend:model`
        add_provider_requested(): the user picked "Add provider…" at the bottom
    """

    target_chosen = Signal(str)
    add_provider_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("targetPicker")
        self.setToolTip("Where the next message goes; the conversation so far goes along")
        self.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.setMinimumContentsLength(16)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        self._model = QStandardItemModel(self)
        self._chosen = ""
        self.setModel(self._model)
        self.activated.connect(self._on_activated)

    def set_options(self, options: list[TargetOption], current: str) -> None:
        self.blockSignals(True)
        try:
            self._model.clear()
            groups: dict[str, list[TargetOption]] = {}
            for option in options:
                groups.setdefault(option.group, []).append(option)
            for group, members in groups.items():
                self._model.appendRow(self._header(group))
                for option in members:
                    self._model.appendRow(self._item(option))
            if not options:
                self._model.appendRow(self._header("No models installed"))
            add = QStandardItem("Add provider…")
            add.setData(ADD_PROVIDER, ACTION_ROLE)
            add.setToolTip("Connect Hugging Face, Mistral or any OpenAI-compatible endpoint")
            self._model.appendRow(add)
            if current and self.index_of(current) < 0:
                missing = QStandardItem(f"{current} (not available)")
                missing.setData(current, TARGET_ROLE)
                missing.setEnabled(False)
                missing.setToolTip("This conversation's model is not installed or configured.")
                self._model.insertRow(0, missing)
            self._chosen = current
            self.setCurrentIndex(max(0, self.index_of(current)))
        finally:
            self.blockSignals(False)

    def index_of(self, target: str) -> int:
        for row in range(self._model.rowCount()):
            if self._model.item(row).data(TARGET_ROLE) == target:
                return row
        return -1

    def current_target(self) -> str:
        item = self._model.item(self.currentIndex()) if self.currentIndex() >= 0 else None
        value = item.data(TARGET_ROLE) if item is not None else None
        return str(value) if value else ""

    def choose(self, target: str) -> None:
        """Select `target` as if the user picked it."""
        index = self.index_of(target)
        if index >= 0:
            self.setCurrentIndex(index)
            self._on_activated(index)

    @staticmethod
    def _header(text: str) -> QStandardItem:
        item = QStandardItem(text)
        item.setFlags(Qt.ItemFlag.NoItemFlags)
        font = QFont()
        font.setBold(True)
        item.setFont(font)
        return item

    @staticmethod
    def _item(option: TargetOption) -> QStandardItem:
        item = QStandardItem(f"   {option.label}")
        item.setData(str(option.target), TARGET_ROLE)
        item.setEnabled(option.available)
        tip = option.reason if not option.available else option.detail
        if tip:
            item.setToolTip(tip)
        return item

    def _on_activated(self, index: int) -> None:
        item = self._model.item(index)
        if item is not None and item.data(ACTION_ROLE) == ADD_PROVIDER:
            self.setCurrentIndex(max(0, self.index_of(self._chosen)))  # an action, not a choice
            self.add_provider_requested.emit()
        elif item is not None and item.isEnabled() and item.data(TARGET_ROLE):
            self._chosen = str(item.data(TARGET_ROLE))
            self.target_chosen.emit(self._chosen)
