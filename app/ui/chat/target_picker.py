"""The one control that says where the next turn goes: local models and providers, grouped."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QFont, QFontMetrics, QStandardItem, QStandardItemModel
from PySide6.QtWidgets import (
    QComboBox,
    QSizePolicy,
    QStyle,
    QStyleOptionComboBox,
    QStylePainter,
    QWidget,
)

from app.ui.safe_text import plain_tip

if TYPE_CHECKING:
    from PySide6.QtGui import QPaintEvent

    from app.core.llm.targets import TargetOption

TARGET_ROLE = Qt.ItemDataRole.UserRole
ACTION_ROLE = TARGET_ROLE + 1
ADD_PROVIDER = "add-provider"
MAX_WIDTH_PX = 360  # room for "org/Model-Name-24B-Instruct" without crowding the toolbar


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
        self.setMinimumContentsLength(10)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        self._model = QStandardItemModel(self)
        self._chosen = ""
        self.setModel(self._model)
        self.activated.connect(self._on_activated)
        self.currentIndexChanged.connect(self.updateGeometry)
        self.view().setTextElideMode(Qt.TextElideMode.ElideMiddle)

    def sizeHint(self) -> QSize:
        """Wide enough for the chosen model's whole name (up to MAX_WIDTH_PX)."""
        opt = QStyleOptionComboBox()
        self.initStyleOption(opt)
        metrics = self.fontMetrics()
        text = QSize(metrics.horizontalAdvance(self.shown_text()), metrics.height())
        needed = self.style().sizeFromContents(QStyle.ContentsType.CT_ComboBox, opt, text, self)
        width = max(needed.width(), self.minimumSizeHint().width())
        return QSize(min(width, MAX_WIDTH_PX), super().sizeHint().height())

    def shown_text(self) -> str:
        return self.currentText().strip()  # items are indented under their group in the list

    def paintEvent(self, event: QPaintEvent) -> None:
        # When the toolbar is narrow, elide the middle: a model's quantization is at its end.
        painter = QStylePainter(self)
        opt = QStyleOptionComboBox()
        self.initStyleOption(opt)
        painter.drawComplexControl(QStyle.ComplexControl.CC_ComboBox, opt)
        field = self.style().subControlRect(
            QStyle.ComplexControl.CC_ComboBox, opt, QStyle.SubControl.SC_ComboBoxEditField, self
        )
        opt.currentText = self.fontMetrics().elidedText(
            self.shown_text(), Qt.TextElideMode.ElideMiddle, field.width()
        )
        painter.drawControl(QStyle.ControlElement.CE_ComboBoxLabel, opt)

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
        self._fit_list()
        self.updateGeometry()

    def _fit_list(self) -> None:
        """The open list is as wide as its longest entry, whatever the control's width."""
        widest = 0
        for row in range(self._model.rowCount()):
            item = self._model.item(row)
            metrics = QFontMetrics(item.font()) if item.font().bold() else self.fontMetrics()
            widest = max(widest, metrics.horizontalAdvance(item.text()))
        scrollbar = self.style().pixelMetric(QStyle.PixelMetric.PM_ScrollBarExtent)
        self.view().setMinimumWidth(widest + scrollbar + 16)

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
            item.setToolTip(plain_tip(tip))
        return item

    def _on_activated(self, index: int) -> None:
        item = self._model.item(index)
        if item is not None and item.data(ACTION_ROLE) == ADD_PROVIDER:
            self.setCurrentIndex(max(0, self.index_of(self._chosen)))  # an action, not a choice
            self.add_provider_requested.emit()
        elif item is not None and item.isEnabled() and item.data(TARGET_ROLE):
            self._chosen = str(item.data(TARGET_ROLE))
            self.target_chosen.emit(self._chosen)
