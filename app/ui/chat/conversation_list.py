"""The conversations, most recent first: search, New, Rename, Delete."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QPainter
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QVBoxLayout,
    QWidget,
)

if TYPE_CHECKING:
    from app.core.chat.conversations import Conversation

SEARCH_DELAY_MS = 200  # search once typing pauses, not on every key
ID_ROLE = Qt.ItemDataRole.UserRole
PROJECT_ROLE = Qt.ItemDataRole.UserRole + 1


class ProjectTagDelegate(QStyledItemDelegate):
    """Draws a conversation's project, small and grey, at the right of its title."""

    def paint(
        self,
        painter: QPainter,
        option: QStyleOptionViewItem,
        index: QModelIndex | QPersistentModelIndex,
    ) -> None:
        project = index.data(PROJECT_ROLE)
        if not project:
            super().paint(painter, option, index)
            return
        metrics = option.fontMetrics
        tag = metrics.elidedText(str(project), Qt.TextElideMode.ElideRight,
                                 option.rect.width() // 3)  # fmt: skip
        width = metrics.horizontalAdvance(tag) + 10
        title = QStyleOptionViewItem(option)
        title.rect = option.rect.adjusted(0, 0, -width, 0)
        super().paint(painter, title, index)
        painter.save()
        painter.setPen(QColor("#6b7280"))
        painter.drawText(option.rect.adjusted(0, 0, -4, 0),
                         int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter), tag)
        painter.restore()


def _when(timestamp: float) -> str:
    moment = dt.datetime.fromtimestamp(timestamp)
    if moment.date() == dt.date.today():
        return moment.strftime("%H:%M")
    return moment.strftime("%d %b %Y")


class ConversationList(QWidget):
    """Signals:
    conversation_selected(conversation_id)
    new_requested
    rename_requested(conversation_id, title)
    delete_requested(conversation_id): after the user confirmed
    search_changed(text)
    """

    conversation_selected = Signal(int)
    new_requested = Signal()
    rename_requested = Signal(int, str)
    delete_requested = Signal(int)
    search_changed = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("conversationList")
        self.search = QLineEdit(self)
        self.search.setPlaceholderText("Search conversations")
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(self._on_search_typed)
        self._search_timer = QTimer(self)
        self._search_timer.setSingleShot(True)
        self._search_timer.setInterval(SEARCH_DELAY_MS)
        self._search_timer.timeout.connect(self._emit_search)
        self.list = QListWidget(self)
        self.list.setObjectName("conversations")
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.list.setEditTriggers(QAbstractItemView.EditTrigger.EditKeyPressed)
        self.list.setUniformItemSizes(True)
        self.list.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.list.setItemDelegate(ProjectTagDelegate(self.list))
        self.list.currentItemChanged.connect(self._on_current_changed)
        self.list.itemChanged.connect(self._on_item_edited)
        self.new_button = QPushButton("New", self)
        self.new_button.setToolTip("Start a new conversation")
        self.new_button.clicked.connect(self._on_new_clicked)
        self.rename_button = QPushButton("Rename", self)
        self.rename_button.clicked.connect(self.start_rename)
        self.delete_button = QPushButton("Delete", self)
        self.delete_button.clicked.connect(self.confirm_delete)
        self.confirm_box: QMessageBox | None = None
        buttons = QHBoxLayout()
        buttons.setSpacing(4)
        buttons.addWidget(self.new_button)
        buttons.addWidget(self.rename_button)
        buttons.addWidget(self.delete_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 4, 8)
        layout.setSpacing(6)
        layout.addWidget(self.search)
        layout.addWidget(self.list, 1)
        layout.addLayout(buttons)
        self._update_buttons()

    def set_conversations(self, conversations: list[Conversation], current_id: int | None) -> None:
        """Replace the list without announcing a selection change."""
        self.list.blockSignals(True)
        try:
            self.list.clear()
            for conv in conversations:
                item = QListWidgetItem(conv.title)
                item.setData(ID_ROLE, conv.id)
                item.setData(PROJECT_ROLE, conv.project or "")
                project = f"\nProject {conv.project}" if conv.project else ""
                item.setToolTip(f"{conv.title}\nLast active {_when(conv.updated_at)}{project}")
                item.setFlags(item.flags() | Qt.ItemFlag.ItemIsEditable)
                self.list.addItem(item)
                if conv.id == current_id:
                    self.list.setCurrentItem(item)
        finally:
            self.list.blockSignals(False)
        self._update_buttons()

    def current_id(self) -> int | None:
        item = self.list.currentItem()
        return int(item.data(ID_ROLE)) if item is not None else None

    def ids(self) -> list[int]:
        return [int(self.list.item(i).data(ID_ROLE)) for i in range(self.list.count())]

    def projects(self) -> list[str]:
        return [str(self.list.item(i).data(PROJECT_ROLE) or "") for i in range(self.list.count())]

    def titles(self) -> list[str]:
        return [self.list.item(i).text() for i in range(self.list.count())]

    def select(self, conversation_id: int, *, notify: bool = True) -> None:
        """Make `conversation_id` current; `notify=False` when the caller already opened it."""
        for i in range(self.list.count()):
            if self.list.item(i).data(ID_ROLE) == conversation_id:
                self.list.blockSignals(not notify)
                try:
                    self.list.setCurrentRow(i)
                finally:
                    self.list.blockSignals(False)
                self._update_buttons()
                return

    def start_rename(self) -> None:
        item = self.list.currentItem()
        if item is not None:
            self.list.editItem(item)

    def confirm_delete(self) -> None:
        item = self.list.currentItem()
        if item is None:
            return
        box = QMessageBox(
            QMessageBox.Icon.Question,
            "Delete conversation",
            f"Delete “{item.text()}” and all its messages? This can't be undone.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
            self,
        )
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.button(QMessageBox.StandardButton.Yes).setText("Delete")
        box.setProperty("conversation_id", int(item.data(ID_ROLE)))
        box.finished.connect(self._on_confirm_finished)
        self.confirm_box = box
        box.open()  # not exec(): the GUI thread keeps running its event loop

    def _on_confirm_finished(self, result: int) -> None:
        box, self.confirm_box = self.confirm_box, None
        if box is None:
            return
        conversation_id = int(box.property("conversation_id"))
        box.deleteLater()
        if result == QMessageBox.StandardButton.Yes:
            self.delete_requested.emit(conversation_id)

    def _on_new_clicked(self) -> None:
        self.new_requested.emit()

    def _on_current_changed(self, current: QListWidgetItem | None, _previous: object) -> None:
        self._update_buttons()
        if current is not None:
            self.conversation_selected.emit(int(current.data(ID_ROLE)))

    def _on_item_edited(self, item: QListWidgetItem) -> None:
        self.rename_requested.emit(int(item.data(ID_ROLE)), item.text())

    def _on_search_typed(self, _text: str) -> None:
        self._search_timer.start()

    def _emit_search(self) -> None:
        self.search_changed.emit(self.search.text())

    def _update_buttons(self) -> None:
        has_current = self.list.currentItem() is not None
        self.rename_button.setEnabled(has_current)
        self.delete_button.setEnabled(has_current)
