"""The Chat tab: conversation list (folders, pins) on the left, the conversation on the right.

The tab builds the widgets and links the rooms that do the work, each by what the user does:

- `library`: find, open, start, rename, delete, pin, file and fork conversations
- `options`: the toolbar's choices for the open conversation (target, project, settings)
- `files`: attachments, exports and imports
- `turns`: send, stop, regenerate, edit and resend, the answer streaming in

They share one `ChatSession` (the open conversation, where its turns go, whether an answer
is being written) and speak to each other in signals.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, Qt, QTimer, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QHBoxLayout, QSplitter, QStackedWidget, QVBoxLayout, QWidget

from app.core.foundation.errors import ParleyError
from app.ui.chat.banner import ErrorBanner
from app.ui.chat.composer import Composer
from app.ui.chat.context_meter import ContextMeter
from app.ui.chat.conversation_list import ConversationList
from app.ui.chat.cost_preview import CostPreview
from app.ui.chat.files import ChatFiles
from app.ui.chat.heap import IdleCollector
from app.ui.chat.library import ConversationLibrary
from app.ui.chat.message_view import MessageView
from app.ui.chat.options import ConversationOptions
from app.ui.chat.session import ChatSession
from app.ui.chat.style import chat_style
from app.ui.chat.toolbar import ConversationToolbar
from app.ui.chat.turns import ChatTurns

if TYPE_CHECKING:
    from app.core.context import AppContext
    from app.ui.chat.turn_runner import TurnRunner
    from app.ui.compare import CompareView
    from app.workers import WorkerPool

logger = logging.getLogger(__name__)


class ChatTab(QWidget):
    """Chat with local and cloud models; every turn runs on the worker pool.

    Signals:
        status_message(text): something to say in the window's status bar
        model_changed: a turn ended (a local model may have loaded)
    """

    status_message = Signal(str)
    model_changed = Signal()

    def __init__(self, ctx: AppContext, pool: WorkerPool, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("chatTab")
        self.ctx = ctx
        self.pool = pool
        self.compare_view: CompareView | None = None
        self._build_widgets()
        self.session = ChatSession(ctx, self.target_picker.current_target, self)
        self.library = ConversationLibrary(self.session, pool, self.conversations, self.view,
                                           self.errors, self)  # fmt: skip
        self.options = ConversationOptions(self.session, pool, self.toolbar, self.view,
                                           self.errors, self)  # fmt: skip
        self.files = ChatFiles(self.session, pool, self.composer, self.errors, self)
        self.turns = ChatTurns(self.session, pool, self.view, self.composer, self.errors, self)
        self.cost_preview = CostPreview(ctx, pool, self.composer, self.session.quote_context)
        self.context_meter = ContextMeter(ctx, pool, self.composer, self.session.quote_context)
        self._heap = IdleCollector(lambda: self.session.generating, self)
        self._link_rooms()
        self._build_layout()
        self.stop_shortcut = QShortcut(QKeySequence(Qt.Key.Key_Escape), self)
        self.stop_shortcut.setObjectName("stopShortcut")
        self.stop_shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.stop_shortcut.activated.connect(self.turns.stop)
        self.setFocusProxy(self.composer.editor)  # switching to the Chat tab lands in the box
        self.setStyleSheet(chat_style(self.palette()))
        self._recover_interrupted()
        self.library.reload_list()
        self.library.open_first()
        self.focus_composer()  # the window opens ready to type

    def _build_widgets(self) -> None:
        self.conversations = ConversationList(self)
        self.toolbar = ConversationToolbar(self)
        self.title = self.toolbar.title
        self.target_picker = self.toolbar.target_picker
        self.local_only_button = self.toolbar.local_only_button
        self.settings_button = self.toolbar.settings_button
        self.errors = ErrorBanner(self)
        self.banner = self.errors.label
        self.override_button = self.errors.override_button
        self.view = MessageView(self)
        self.composer = Composer(self)

    def _link_rooms(self) -> None:
        library, options, files, turns = self.library, self.options, self.files, self.turns
        library.conversation_opened.connect(self._on_conversation_opened)
        library.compose_requested.connect(self.focus_composer)
        library.status_message.connect(self.status_message)
        self.conversations.export_requested.connect(files.export_conversation)
        self.view.export_requested.connect(lambda: files.export_conversation(None))
        files.conversation_imported.connect(library.open_conversation)
        files.status_message.connect(self.status_message)
        options.target_shown.connect(self.cost_preview.schedule)  # another target, another price
        options.target_shown.connect(self.context_meter.schedule)
        self.toolbar.providers_requested.connect(self.open_providers)
        self.toolbar.compare_requested.connect(self.show_compare)
        turns.turn_shown.connect(self.context_meter.schedule)
        turns.model_changed.connect(self.model_changed)
        # Scrolling, typing and searching are the user at work: the heap's full pass waits.
        self.view.verticalScrollBar().valueChanged.connect(self._heap.postpone)
        self.composer.editor.textChanged.connect(self._heap.postpone)
        self.conversations.search.textChanged.connect(self._heap.postpone)

    def _build_layout(self) -> None:
        pane = QWidget(self)
        column = QVBoxLayout(pane)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(0)
        column.addWidget(self.toolbar)
        column.addWidget(self.view, 1)
        column.addWidget(self.errors)
        column.addWidget(self.composer)
        self.stack = QStackedWidget(self)
        self.stack.addWidget(pane)
        splitter = QSplitter(Qt.Orientation.Horizontal, self)
        splitter.setObjectName("chatSplitter")
        self.splitter = splitter
        splitter.addWidget(self.conversations)
        splitter.addWidget(self.stack)
        splitter.setStretchFactor(0, 0)
        splitter.setStretchFactor(1, 1)
        splitter.setCollapsible(1, False)
        self.conversations.setMinimumWidth(170)
        splitter.setSizes([210, 990])
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(splitter)

    # public --------------------------------------------------------------------
    @property
    def conversation_id(self) -> int | None:
        return self.session.conversation_id

    @property
    def generating(self) -> bool:
        return self.session.generating

    @property
    def runner(self) -> TurnRunner:
        return self.turns.runner

    def refresh(self) -> None:
        """The tab is shown again: models or conversations may have changed elsewhere."""
        self.library.reload_list()
        self.options.update_toolbar()

    def shutdown(self) -> None:
        """The window closes: stop the answer and wait until its partial text is stored."""
        self.session.closing = True
        self._heap.stop()
        self.cost_preview.stop()
        self.context_meter.stop()
        if self.compare_view is not None:
            self.compare_view.shutdown()
        self.turns.shutdown()

    def focus_composer(self) -> None:
        """Put the keyboard focus in the message box."""
        self.composer.focus_editor()

    def new_conversation(self) -> None:
        self.library.new_conversation()

    def open_conversation(self, conversation_id: int | None) -> None:
        self.library.open_conversation(conversation_id)

    def import_conversation(self) -> None:
        self.files.import_conversation()

    def export_conversation(self, conversation_id: int | None) -> None:
        self.files.export_conversation(conversation_id)

    def show_compare(self) -> None:
        """Compare replaces the conversation pane; built on first use to keep start-up lean."""
        if self.compare_view is None:
            from app.ui.compare import CompareView

            self.compare_view = CompareView(self.ctx, self.pool, self)
            self.compare_view.back_requested.connect(self.show_chat)
            self.compare_view.conversation_open_requested.connect(self.open_from_compare)
            self.stack.addWidget(self.compare_view)
        else:
            self.compare_view.refresh()
        self.stack.setCurrentWidget(self.compare_view)

    def show_chat(self) -> None:
        self.stack.setCurrentIndex(0)

    def open_from_compare(self, conversation_id: int) -> None:
        self.library.reload_list()
        self.library.open_conversation(conversation_id)
        self.focus_composer()

    def open_providers(self) -> None:
        from app.ui.providers import open_providers_dialog  # dialogs load when first opened

        dialog = open_providers_dialog(self.ctx, self.pool, self)
        dialog.providers_changed.connect(self.refresh)

    # internals -----------------------------------------------------------------
    def _on_conversation_opened(self, _conversation_id: int | None) -> None:
        self.show_chat()
        self.errors.hide_error()
        self.turns.reattach()
        self.options.update_toolbar()
        # In its own turn of the event loop, after the first screen is drawn; the full
        # collection waits until the user pauses (heap.py).
        QTimer.singleShot(0, self._heap.poke)

    def _recover_interrupted(self) -> None:
        """Answers left `streaming` by a crashed process become `interrupted`."""
        try:
            self.ctx.recover_interrupted()
        except ParleyError as exc:
            logger.warning("could not recover interrupted answers: %s", exc)

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange:
            self.setStyleSheet(chat_style(self.palette()))  # a dark theme, a dark chat
