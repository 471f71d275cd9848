"""The conversations the user keeps: find, open, start, rename, delete, pin, file in
folders, fork and copy them. Drives the list on the left and loads the view on the right."""

from __future__ import annotations

import functools
import logging
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QApplication

from app.core.foundation.errors import ParleyError
from app.workers import FunctionJob

if TYPE_CHECKING:
    from app.core.chat.conversations import Conversation
    from app.ui.chat.banner import ErrorBanner
    from app.ui.chat.conversation_list import ConversationList
    from app.ui.chat.message_view import MessageView
    from app.ui.chat.session import ChatSession
    from app.workers import WorkerPool

logger = logging.getLogger(__name__)

OPEN_MESSAGES = 80  # read when a conversation opens; older ones as the user asks


class ConversationLibrary(QObject):
    """The conversation list's operations, each a store call followed by a fresh list.

    Signals:
        conversation_opened(conversation_id): the view shows it (None: no conversation)
        compose_requested: the user chose a conversation and is about to type
        status_message(text)
    """

    conversation_opened = Signal(object)
    compose_requested = Signal()
    status_message = Signal(str)

    def __init__(
        self,
        session: ChatSession,
        pool: WorkerPool,
        conversations: ConversationList,
        view: MessageView,
        banner: ErrorBanner,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.session = session
        self.store = session.ctx.store
        self.folder_store = session.ctx.folders
        self.pool = pool
        self.conversations = conversations
        self.view = view
        self.banner = banner
        self._search = ""
        self._search_job: FunctionJob | None = None
        conversations.folders.store = self.folder_store
        conversations.conversation_selected.connect(self.open_conversation)
        # A click (or Enter) chooses a conversation: type into it at once. Arrow keys only
        # browse, so the list keeps the focus for them.
        conversations.list.itemClicked.connect(self.compose_requested)
        conversations.list.itemActivated.connect(self.compose_requested)
        conversations.new_requested.connect(self.new_conversation)
        conversations.rename_requested.connect(self.rename_conversation)
        conversations.delete_requested.connect(self.delete_conversation)
        conversations.search_changed.connect(self.search)
        conversations.pin_requested.connect(self.pin_conversation)
        conversations.folder_requested.connect(self.move_to_folder)
        conversations.copy_requested.connect(self.copy_conversation)
        conversations.folders_changed.connect(self.reload_list)
        conversations.folder_chosen.connect(lambda _id: self.reload_list())
        view.fork_requested.connect(self.fork)
        view.delete_requested.connect(self.confirm_delete_current)
        session.conversations_changed.connect(self.reload_list)
        session.conversation_created.connect(
            lambda cid: conversations.select(cid, notify=False)
        )

    # opening -------------------------------------------------------------------
    def open_conversation(self, conversation_id: int | None) -> None:
        self.view.clear_messages()
        self.session.conversation_id = conversation_id
        if conversation_id is not None:
            messages = self.store.last_messages(conversation_id, OPEN_MESSAGES)
            earlier = self.store.count_messages_before(conversation_id, messages[0].position) if (
                messages) else 0  # fmt: skip
            self.view.set_messages(messages, earlier=earlier,
                                   load_earlier=functools.partial(self.store.messages_before,
                                                                  conversation_id))  # fmt: skip
            self.conversations.select(conversation_id, notify=False)
        self.conversation_opened.emit(conversation_id)
        self.view.scroll_to_bottom()

    def open_first(self) -> None:
        ids = self.conversations.ids()
        self.open_conversation(ids[0] if ids else None)

    def new_conversation(self) -> None:
        conv = self.session.current_conversation()
        if conv is not None and not self.view.widgets and not self.session.is_answering(conv.id):
            self.compose_requested.emit()  # this one is still empty: use it
            return
        self.open_conversation(self.session.create_conversation(self.session.new_target_text()).id)
        self.compose_requested.emit()

    # the list's operations ---------------------------------------------------------
    def rename_conversation(self, conversation_id: int, title: str) -> None:
        self.store.rename(conversation_id, title)
        self.session.stored()

    def delete_conversation(self, conversation_id: int) -> None:
        if self.session.is_answering(conversation_id):
            self.banner.show_error("Stop the answer that is being written before deleting "
                                   "this conversation.")  # fmt: skip
            return
        self.store.delete(conversation_id)
        self.session.stored()
        if conversation_id == self.session.conversation_id:
            self.open_first()

    def pin_conversation(self, conversation_id: int, pinned: bool) -> None:
        self.store.set_pinned(conversation_id, pinned)
        self.session.stored()

    def move_to_folder(self, conversation_id: int, folder_id: int) -> None:
        """Drop a conversation on a folder (folder_id 0: out of every folder)."""
        self.store.set_folder(conversation_id, folder_id or None)
        self.session.stored()

    def copy_conversation(self, conversation_id: int) -> None:
        from app.core.chat.export import conversation_to_markdown

        QApplication.clipboard().setText(conversation_to_markdown(self.store, conversation_id))
        self.status_message.emit("Copied the conversation as Markdown.")

    def confirm_delete_current(self) -> None:
        if (conversation_id := self.session.conversation_id) is not None:
            self.conversations.select(conversation_id, notify=False)
            self.conversations.confirm_delete()

    def fork(self, message_id: int) -> None:
        """A new conversation with everything up to `message_id`; the original stays as is."""
        try:
            conv = self.store.fork(message_id)
        except ParleyError as exc:
            self.banner.show_error(str(exc))
            return
        self.session.stored()
        self.open_conversation(conv.id)
        self.compose_requested.emit()
        self.status_message.emit(f"Forked into “{conv.title}”.")

    # the list ----------------------------------------------------------------------
    def search(self, text: str) -> None:
        self._search = text
        self.reload_list()

    def reload_list(self) -> None:
        # A full-text search runs on the db lane; only the newest one's results are shown.
        if self._search_job is not None:
            self._search_job.cancel()
            self._search_job = None
        self.conversations.folders.set_folders(self.folder_store.list())
        folder = self.conversations.folders.current_folder()
        if not self._search.strip():
            self.conversations.set_conversations(
                self.store.list(folder_id=folder), self.session.conversation_id
            )
            return
        store, text = self.store, self._search
        job = FunctionJob(lambda _cancel, _progress: store.list(text, folder_id=folder))
        job.finished.connect(self._on_search_results)
        self._search_job = job
        self.pool.submit(job, "db")

    def _on_search_results(self, job_id: int, conversations: list[Conversation]) -> None:
        if self._search_job is not None and job_id == self._search_job.job_id:
            self._search_job = None
            self.conversations.set_conversations(conversations, self.session.conversation_id)
