"""The conversations, pinned then most recent first: search, New, Rename, Delete; folders
above them (drag a conversation onto one), and a context menu on each conversation."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from PySide6.QtCore import QMimeData, QModelIndex, QPersistentModelIndex, QPoint, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QMessageBox,
    QPushButton,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QVBoxLayout,
    QWidget,
)

from app.ui.chat.folder_list import ALL, CONVERSATION_MIME, FolderList, conversation_mime
from app.ui.safe_text import plain_tip
from app.ui.theme import muted

if TYPE_CHECKING:
    from collections.abc import Callable

    from PySide6.QtGui import QPainter

    from app.core.chat.conversations import Conversation

SEARCH_DELAY_MS = 200  # search once typing pauses, not on every key
ID_ROLE = Qt.ItemDataRole.UserRole
PROJECT_ROLE = Qt.ItemDataRole.UserRole + 1
PINNED_ROLE = Qt.ItemDataRole.UserRole + 2


class ConversationListWidget(QListWidget):
    """The list itself: a dragged conversation carries its id."""

    def mimeData(self, items: list[QListWidgetItem]) -> QMimeData:  # type: ignore[override]
        return conversation_mime(int(items[0].data(ID_ROLE))) if items else QMimeData()

    def mimeTypes(self) -> list[str]:
        return [CONVERSATION_MIME]


class ProjectTagDelegate(QStyledItemDelegate):
    """Draws a conversation's project, small and grey, at the right of its title."""

    def paint(
        self,
        painter: QPainter,
        option: QStyleOptionViewItem,
        index: QModelIndex | QPersistentModelIndex,
    ) -> None:
        project = index.data(PROJECT_ROLE)
        if index.data(PINNED_ROLE):
            project = f"pinned · {project}" if project else "pinned"
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
        painter.setPen(muted(option.palette))
        painter.drawText(option.rect.adjusted(0, 0, -4, 0),
                         int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter), tag)
        painter.restore()


def _when(timestamp: float, today: dt.date, days: dict[dt.date, str]) -> str:
    """"14:05" today, "03 Mar 2025" before; `days` caches the dates (a list of 1,000
    conversations spent a third of its 70 ms formatting them)."""
    moment = dt.datetime.fromtimestamp(timestamp)
    day = moment.date()
    if day == today:
        return moment.strftime("%H:%M")
    if (text := days.get(day)) is None:
        text = days[day] = day.strftime("%d %b %Y")
    return text


class ConversationList(QWidget):
    """Signals:
    conversation_selected(conversation_id)
    new_requested
    rename_requested(conversation_id, title)
    delete_requested(conversation_id): after the user confirmed
    search_changed(text)
    pin_requested(conversation_id, pinned)
    folder_requested(conversation_id, folder_id): move it (0: out of every folder)
    export_requested(conversation_id)
    copy_requested(conversation_id): copy it as Markdown
    folders_changed: a folder was made, renamed or deleted
    folder_chosen(folder_id): show that folder (0: everything)
    """

    conversation_selected = Signal(int)
    new_requested = Signal()
    rename_requested = Signal(int, str)
    delete_requested = Signal(int)
    search_changed = Signal(str)
    pin_requested = Signal(int, bool)
    folder_requested = Signal(int, int)
    export_requested = Signal(int)
    copy_requested = Signal(int)
    folders_changed = Signal()
    folder_chosen = Signal(int)

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
        self._shown: list[tuple[int, str, str, bool, float]] = []  # what each row shows
        self.folders = FolderList(self)
        self.folders.conversation_dropped.connect(self.folder_requested)
        self.folders.folders_changed.connect(self.folders_changed)
        self.folders.folder_chosen.connect(self.folder_chosen)
        self.new_folder_button = QPushButton("New folder", self)
        self.new_folder_button.setToolTip("Make a folder; drag conversations onto it")
        self.new_folder_button.setFlat(True)
        self.new_folder_button.clicked.connect(self.folders.ask_new_folder)
        self.list = ConversationListWidget(self)
        self.list.setObjectName("conversations")
        self.list.setDragEnabled(True)
        self.list.setDragDropMode(QAbstractItemView.DragDropMode.DragOnly)
        self.list.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.list.customContextMenuRequested.connect(self._conversation_menu_at)
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
        layout.addWidget(self.folders)
        layout.addWidget(self.new_folder_button, 0, Qt.AlignmentFlag.AlignLeft)
        layout.addWidget(self.list, 1)
        layout.addLayout(buttons)
        self._update_buttons()

    def set_conversations(self, conversations: list[Conversation], current_id: int | None) -> None:
        """Replace the list without announcing a selection change.

        Rows whose conversation is unchanged are left alone: after a turn, one of 500
        conversations moved to the top, and rebuilding every row stalled the window."""
        shown = [(c.id, c.title, c.project or "", c.pinned, c.updated_at) for c in conversations]
        self.list.blockSignals(True)
        today, days = dt.date.today(), dict[dt.date, str]()
        try:
            if len(shown) != self.list.count():
                self.list.clear()
                self._shown = []
                for _ in conversations:
                    item = QListWidgetItem()
                    item.setFlags(item.flags() | Qt.ItemFlag.ItemIsEditable)
                    self.list.addItem(item)
            for row, (conv, key) in enumerate(zip(conversations, shown, strict=True)):
                item = self.list.item(row)
                if row >= len(self._shown) or self._shown[row] != key:
                    item.setText(conv.title)
                    item.setData(ID_ROLE, conv.id)
                    item.setData(PROJECT_ROLE, conv.project or "")
                    item.setData(PINNED_ROLE, conv.pinned)
                    project = f"\nProject {conv.project}" if conv.project else ""
                    pinned = "\nPinned" if conv.pinned else ""
                    when = _when(conv.updated_at, today, days)
                    item.setToolTip(plain_tip(f"{conv.title}\nLast active {when}{project}{pinned}"))
            self._shown = shown
            current = self.ids().index(current_id) if current_id in self.ids() else -1
            self.list.setCurrentRow(current)
        finally:
            self.list.blockSignals(False)
        self._update_buttons()

    # context menu on a conversation ----------------------------------------------
    def context_menu(self, item: QListWidgetItem) -> QMenu:
        conversation_id = int(item.data(ID_ROLE))
        pinned = bool(item.data(PINNED_ROLE))
        menu = QMenu(self)
        menu.addAction("Open", lambda: self.select(conversation_id))
        menu.addAction("Rename", lambda: self.list.editItem(item))
        menu.addAction("Unpin" if pinned else "Pin to top",
                       lambda: self.pin_requested.emit(conversation_id, not pinned))  # fmt: skip
        move = menu.addMenu("Move to folder")
        move.addAction("No folder", lambda: self.folder_requested.emit(conversation_id, ALL))
        for folder_id in self.folders.folder_ids()[1:]:
            move.addAction(self.folders.folder_name(folder_id),
                           self._mover(conversation_id, folder_id))  # fmt: skip
        menu.addAction("Copy as Markdown", lambda: self.copy_requested.emit(conversation_id))
        menu.addAction("Export…", lambda: self.export_requested.emit(conversation_id))
        menu.addSeparator()

        def delete() -> None:
            self.select(conversation_id, notify=False)
            self.confirm_delete()

        menu.addAction("Delete…", delete)
        return menu

    def _mover(self, conversation_id: int, folder_id: int) -> Callable[[], None]:
        return lambda: self.folder_requested.emit(conversation_id, folder_id)

    def _conversation_menu_at(self, pos: QPoint) -> None:
        item = self.list.itemAt(pos)
        if item is None:
            return
        menu = self.context_menu(item)
        menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        menu.popup(self.list.viewport().mapToGlobal(pos))

    # conversations -----------------------------------------------------------------
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
