"""The folders above the conversation list: "All conversations" first, then the user's
own; drop a conversation on one to move it there, right-click one to rename or delete it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QMimeData, QPoint, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QInputDialog,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QMessageBox,
    QSizePolicy,
    QWidget,
)

from app.core.foundation.errors import ParleyError

if TYPE_CHECKING:
    from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent

    from app.core.chat.folders import Folder, FolderStore

ID_ROLE = Qt.ItemDataRole.UserRole
CONVERSATION_MIME = "application/x-parley-conversation"
ALL = 0  # the folder row that shows every conversation
FOLDER_ROWS_SHOWN = 5  # the folder list grows to this many rows, then scrolls


def conversation_mime(conversation_id: int) -> QMimeData:
    """What a dragged conversation carries: its id."""
    mime = QMimeData()
    mime.setData(CONVERSATION_MIME, str(conversation_id).encode())
    return mime


class FolderList(QListWidget):
    """Folders; a conversation dropped on one moves into it ("All conversations": out).

    Signals:
        conversation_dropped(conversation_id, folder_id)
        folders_changed: a folder was made, renamed or deleted
        folder_chosen(folder_id): show that folder (0: everything)
    """

    conversation_dropped = Signal(int, int)
    folders_changed = Signal()
    folder_chosen = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("folderList")
        self.store: FolderStore | None = None
        self.setAcceptDrops(True)
        self.setDropIndicatorShown(True)
        self.setDragDropMode(QAbstractItemView.DragDropMode.DropOnly)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.customContextMenuRequested.connect(self._menu_at)
        self.currentItemChanged.connect(self._on_current_changed)

    # dropping a conversation ---------------------------------------------------------
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasFormat(CONVERSATION_MIME):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        over = self.itemAt(event.position().toPoint())
        if event.mimeData().hasFormat(CONVERSATION_MIME) and over is not None:
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:
        item = self.itemAt(event.position().toPoint())
        raw = bytes(event.mimeData().data(CONVERSATION_MIME).data())
        if item is None or not raw.isdigit():
            event.ignore()
            return
        event.acceptProposedAction()
        self.conversation_dropped.emit(int(raw), int(item.data(ID_ROLE)))

    # the folders shown ---------------------------------------------------------------
    def set_folders(self, folders: list[Folder]) -> None:
        """Show "All conversations" and `folders`, keeping the chosen one if it still exists."""
        chosen = self.current_folder() or ALL
        self.blockSignals(True)
        try:
            self.clear()
            everything = QListWidgetItem("All conversations")
            everything.setData(ID_ROLE, ALL)
            everything.setToolTip("Every conversation; drop one here to take it out of its folder")
            self.addItem(everything)
            self.setCurrentItem(everything)
            for folder in folders:
                item = QListWidgetItem(f"{folder.name}  ({folder.count})")
                item.setData(ID_ROLE, folder.id)
                item.setToolTip(f"Folder {folder.name}: drop conversations here")
                self.addItem(item)
                if folder.id == chosen:
                    self.setCurrentItem(item)
        finally:
            self.blockSignals(False)
        rows = min(self.count(), FOLDER_ROWS_SHOWN)
        self.setFixedHeight(rows * max(18, self.sizeHintForRow(0)) + 4)

    def current_folder(self) -> int | None:
        """The folder shown (None: every conversation)."""
        item = self.currentItem()
        folder = int(item.data(ID_ROLE)) if item is not None else ALL
        return folder or None

    def folder_ids(self) -> list[int]:
        return [int(self.item(i).data(ID_ROLE)) for i in range(self.count())]

    def folder_name(self, folder_id: int) -> str:
        for i in range(self.count()):
            item = self.item(i)
            if int(item.data(ID_ROLE)) == folder_id:
                return item.text().rsplit("  (", 1)[0]
        return str(folder_id)

    def show_folder(self, folder_id: int) -> None:
        for i in range(self.count()):
            if int(self.item(i).data(ID_ROLE)) == folder_id:
                self.setCurrentRow(i)
                return

    def _on_current_changed(self, current: QListWidgetItem | None, _previous: object) -> None:
        if current is not None:
            self.folder_chosen.emit(int(current.data(ID_ROLE)))

    # making, renaming, deleting --------------------------------------------------------
    def ask_new_folder(self) -> None:
        dialog = QInputDialog(self)
        dialog.setWindowTitle("New folder")
        dialog.setLabelText("Name of the new folder:")
        dialog.textValueSelected.connect(self.create_folder)
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()

    def create_folder(self, name: str) -> int | None:
        if self.store is None:
            return None
        try:
            folder = self.store.create(name)
        except ParleyError as exc:
            QMessageBox.warning(self, "New folder", str(exc))
            return None
        self.folders_changed.emit()
        return folder.id

    def _menu_at(self, pos: QPoint) -> None:
        item = self.itemAt(pos)
        menu = QMenu(self)
        menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        menu.addAction("New folder…", self.ask_new_folder)
        if item is not None and int(item.data(ID_ROLE)) != ALL:
            folder_id = int(item.data(ID_ROLE))
            menu.addAction("Rename folder…", lambda: self._ask_rename(folder_id))
            menu.addAction("Delete folder", lambda: self._delete(folder_id))
        menu.popup(self.viewport().mapToGlobal(pos))

    def _ask_rename(self, folder_id: int) -> None:
        dialog = QInputDialog(self)
        dialog.setWindowTitle("Rename folder")
        dialog.setLabelText("New name:")
        dialog.textValueSelected.connect(lambda name: self._rename(folder_id, name))
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()

    def _rename(self, folder_id: int, name: str) -> None:
        if self.store is None:
            return
        try:
            self.store.rename(folder_id, name)
        except ParleyError as exc:
            QMessageBox.warning(self, "Rename folder", str(exc))
            return
        self.folders_changed.emit()

    def _delete(self, folder_id: int) -> None:
        """The folder goes; its conversations stay, in no folder."""
        if self.store is not None:
            self.store.delete(folder_id)
            self.folders_changed.emit()
