"""The Chat tab: conversation list (folders, pins) on the left, the conversation on the right.

Also the chat's file work: attachments read, conversations exported, imported and forked,
each on a worker lane.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QApplication,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QTextEdit,
    QVBoxLayout,
    QWidget,
)

from app.core.billing.errors import BudgetExceededError
from app.core.chat.conversations import Conversation, Message
from app.core.chat.projects import ProjectStore
from app.core.foundation.errors import ParleyError
from app.core.llm.contract import Outcome
from app.core.llm.sampling_defaults import default_sampling
from app.core.llm.targets import LOCAL, Target
from app.ui.chat.composer import Composer
from app.ui.chat.context_meter import ContextMeter
from app.ui.chat.conversation_list import ConversationList
from app.ui.chat.cost_preview import CostPreview
from app.ui.chat.heap import IdleCollector
from app.ui.chat.message_view import MessageView
from app.ui.chat.style import chat_style
from app.ui.chat.toolbar import ConversationToolbar
from app.ui.chat.turn_runner import TurnRunner
from app.ui.chat.view_model import conversation_target
from app.ui.safe_text import plain_label
from app.workers import FunctionJob

if TYPE_CHECKING:
    import threading
    from collections.abc import Callable, Generator
    from threading import Event

    from app.core.chat.attachments import Attachment
    from app.core.chat.service import TurnResult
    from app.core.context import AppContext
    from app.core.local.catalog import InstalledModel
    from app.ui.chat.settings_dialog import ConversationSettingsDialog
    from app.ui.compare import CompareView
    from app.workers import WorkerPool
    from app.workers.chat_job import TurnFactory
    from app.workers.jobs import ProgressFn

logger = logging.getLogger(__name__)

NO_MODEL = "No model is installed yet. Add one in the Models tab, then send again."
OPEN_MESSAGES = 80  # read when a conversation opens; older ones as the user asks


def _local_model_facts(model: InstalledModel, cancel: Any, progress: Any) -> tuple[Any, Any]:
    """(shape, hardware) for the settings dialog's fit verdict; reads files: a worker's job."""
    from app.core.local.hardware import cached_probe
    from app.ui.models.controls_form import model_shape

    return model_shape(model), cached_probe()


class BudgetWarnings(QObject):
    """Carries the ledger's budget warnings (raised on a worker thread) to the GUI thread.

    Signals:
        warning_received(message)
    """

    warning_received = Signal(str)

    def warn(self, message: str) -> None:
        self.warning_received.emit(message)


class LoadProgress(QObject):
    """Carries llama.cpp's load progress (reported on the local lane) to the GUI thread.

    Signals:
        progressed(model, fraction)
    """

    progressed = Signal(str, float)

    def report(self, model: str, fraction: float) -> None:
        self.progressed.emit(model, fraction)


EXPORT_FILTERS = {"Markdown (*.md)": "md", "JSON (*.json)": "json", "HTML (*.html)": "html"}


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
        self.conversation_id: int | None = None
        self.settings_dialog: ConversationSettingsDialog | None = None
        self._search = ""
        self._search_job: FunctionJob | None = None
        self._pending_prompt = ""
        self._pending_attachments: tuple[Attachment, ...] = ()
        self._loading_model = ""
        self._closing = False
        self._file_jobs: dict[str, int] = {}
        self.file_dialog: QFileDialog | None = None
        self.load_progress = LoadProgress(self)
        self.load_progress.progressed.connect(self._on_load_progress)
        self._heap = IdleCollector(lambda: self.generating, self)
        self.runner = TurnRunner(pool, self)
        self.runner.text_received.connect(self._on_text)
        self.runner.turn_finished.connect(self._on_finished)
        self.runner.turn_failed.connect(self._on_failed)
        self.runner.turn_ended.connect(self._on_ended)
        self.conversations = ConversationList(self)
        from app.core.chat.folders import FolderStore

        self.conversations.folder_store = FolderStore(ctx.db)
        self.conversations.conversation_selected.connect(self.open_conversation)
        # A click (or Enter) chooses a conversation: type into it at once. Arrow keys only
        # browse, so the list keeps the focus for them.
        self.conversations.list.itemClicked.connect(self.focus_composer)
        self.conversations.list.itemActivated.connect(self.focus_composer)
        self.conversations.new_requested.connect(self.new_conversation)
        self.conversations.rename_requested.connect(self.rename_conversation)
        self.conversations.delete_requested.connect(self.delete_conversation)
        self.conversations.search_changed.connect(self.search)
        self.conversations.pin_requested.connect(self.pin_conversation)
        self.conversations.folder_requested.connect(self.move_to_folder)
        self.conversations.export_requested.connect(self.export_conversation)
        self.conversations.copy_requested.connect(self.copy_conversation)
        self.conversations.folders_changed.connect(self._reload_list)
        self.conversations.folder_chosen.connect(lambda _id: self._reload_list())
        self.toolbar = ConversationToolbar(self)
        self.toolbar.target_chosen.connect(self.choose_target)
        self.toolbar.local_only_toggled.connect(self.set_local_only)
        self.toolbar.settings_requested.connect(self.open_settings)
        self.toolbar.providers_requested.connect(self.open_providers)
        self.toolbar.compare_requested.connect(self.show_compare)
        self.toolbar.project_chosen.connect(self.set_project)
        self.compare_view: CompareView | None = None
        self.title = self.toolbar.title
        self.target_picker = self.toolbar.target_picker
        self.local_only_button = self.toolbar.local_only_button
        self.settings_button = self.toolbar.settings_button
        self.banner = plain_label(QLabel(self))  # provider errors quote what they sent
        self.banner.setObjectName("errorBanner")
        self.banner.setWordWrap(True)
        self.banner.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.banner.hide()
        self.override_button = QPushButton("Send anyway", self)
        self.override_button.setToolTip("Let this one request past the budget")
        self.override_button.clicked.connect(self.override_budget)
        self.override_button.hide()
        self.budget_warnings = BudgetWarnings(self)
        self.budget_warnings.warning_received.connect(self.show_budget_warning)
        ctx.route_budget_warnings(self.budget_warnings.warn)
        self.view = MessageView(self)
        self.view.resend_requested.connect(self.resend_edited)
        self.view.regenerate_requested.connect(self.regenerate)
        self.view.fork_requested.connect(self.fork)
        self.view.export_requested.connect(lambda: self.export_conversation(None))
        self.view.delete_requested.connect(self.confirm_delete_current)
        self.composer = Composer(self)
        # Scrolling, typing and searching are the user at work: the heap's full pass waits.
        self.view.verticalScrollBar().valueChanged.connect(self._heap.postpone)
        self.composer.editor.textChanged.connect(self._heap.postpone)
        self.conversations.search.textChanged.connect(self._heap.postpone)
        self.composer.send_requested.connect(self.send)
        self.composer.stop_requested.connect(self.stop)
        self.composer.files_chosen.connect(self.attach_files)
        self.setFocusProxy(self.composer.editor)  # switching to the Chat tab lands in the box
        self.cost_preview = CostPreview(ctx, pool, self.composer, self._quote_context)
        self.context_meter = ContextMeter(ctx, pool, self.composer, self._quote_context)
        self._build_layout()
        self.stop_shortcut = QShortcut(QKeySequence(Qt.Key.Key_Escape), self)
        self.stop_shortcut.setObjectName("stopShortcut")
        self.stop_shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.stop_shortcut.activated.connect(self.stop)
        self.setStyleSheet(chat_style(self.palette()))
        self._recover_interrupted()
        self._reload_list()
        ids = self.conversations.ids()
        self.open_conversation(ids[0] if ids else None)
        self.focus_composer()  # the window opens ready to type

    def _build_layout(self) -> None:
        pane = QWidget(self)
        column = QVBoxLayout(pane)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(0)
        column.addWidget(self.toolbar)
        column.addWidget(self.view, 1)
        banner_row = QHBoxLayout()
        banner_row.setContentsMargins(12, 6, 12, 0)
        banner_row.addWidget(self.banner, 1)
        banner_row.addWidget(self.override_button)
        column.addLayout(banner_row)
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
    def refresh(self) -> None:
        """The tab is shown again: models or conversations may have changed elsewhere."""
        self._reload_list()
        self._update_toolbar()

    def shutdown(self) -> None:
        """The window closes: stop the answer and wait until its partial text is stored."""
        self._closing = True
        self._heap.stop()
        self.cost_preview.stop()
        self.context_meter.stop()
        if self.compare_view is not None:
            self.compare_view.shutdown()
        self.runner.shutdown()

    def focus_composer(self) -> None:
        """Put the keyboard focus in the message box."""
        self.composer.editor.setFocus(Qt.FocusReason.OtherFocusReason)

    def show_compare(self) -> None:
        """Compare replaces the conversation pane; built on first use to keep start-up lean."""
        if self.compare_view is None:
            # Imported here: app.ui.compare reuses this package's widgets.
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
        self._reload_list()
        self.open_conversation(conversation_id)
        self.focus_composer()

    def open_providers(self) -> None:
        from app.ui.providers import open_providers_dialog  # dialogs load when first opened

        dialog = open_providers_dialog(self.ctx, self.pool, self)
        dialog.providers_changed.connect(self.refresh)

    @property
    def generating(self) -> bool:
        return self.runner.running

    def current_conversation(self) -> Conversation | None:
        if self.conversation_id is None:
            return None
        try:
            return self.ctx.store.get(self.conversation_id)
        except ParleyError:
            return None

    # conversations -------------------------------------------------------------
    def open_conversation(self, conversation_id: int | None) -> None:
        self.show_chat()
        self.view.clear_messages()
        self.conversation_id = conversation_id
        self.hide_error()
        if conversation_id is not None:
            store = self.ctx.store
            messages = store.last_messages(conversation_id, OPEN_MESSAGES)
            earlier = store.count_messages_before(conversation_id, messages[0].position) if (
                messages) else 0  # fmt: skip
            self.view.set_messages(messages, earlier=earlier,
                                   load_earlier=functools.partial(store.messages_before,
                                                                  conversation_id))  # fmt: skip
            self._attach_live(messages)
            self.conversations.select(conversation_id, notify=False)
        self._update_toolbar()
        self.view.scroll_to_bottom()
        # In its own turn of the event loop, after the first screen is drawn; the full
        # collection waits until the user pauses (heap.py).
        QTimer.singleShot(0, self._heap.poke)

    def new_conversation(self) -> None:
        conv = self.current_conversation()
        if conv is not None and not self.view.widgets and not self._is_running_in(conv.id):
            self.composer.editor.setFocus()  # this one is still empty: use it
            return
        target = self.target_picker.current_target() or self._default_target_text()
        self.open_conversation(self._create_conversation(target).id)
        self.composer.editor.setFocus()

    def rename_conversation(self, conversation_id: int, title: str) -> None:
        self.ctx.store.rename(conversation_id, title)
        self._reload_list()
        self._update_title()

    def delete_conversation(self, conversation_id: int) -> None:
        if self._is_running_in(conversation_id):
            self.show_error("Stop the answer that is being written before deleting this "
                            "conversation.")  # fmt: skip
            return
        self.ctx.store.delete(conversation_id)
        self._reload_list()
        if conversation_id == self.conversation_id:
            ids = self.conversations.ids()
            self.open_conversation(ids[0] if ids else None)

    def pin_conversation(self, conversation_id: int, pinned: bool) -> None:
        self.ctx.store.set_pinned(conversation_id, pinned)
        self._reload_list()

    def move_to_folder(self, conversation_id: int, folder_id: int) -> None:
        """Drop a conversation on a folder (folder_id 0: out of every folder)."""
        self.ctx.store.set_folder(conversation_id, folder_id or None)
        self._reload_list()

    def copy_conversation(self, conversation_id: int) -> None:
        from app.core.chat.export import conversation_to_markdown

        QApplication.clipboard().setText(conversation_to_markdown(self.ctx.store, conversation_id))
        self.status_message.emit("Copied the conversation as Markdown.")

    def confirm_delete_current(self) -> None:
        if self.conversation_id is not None:
            self.conversations.select(self.conversation_id, notify=False)
            self.conversations.confirm_delete()

    def fork(self, message_id: int) -> None:
        """A new conversation with everything up to `message_id`; the original stays as is."""
        try:
            conv = self.ctx.store.fork(message_id)
        except ParleyError as exc:
            self.show_error(str(exc))
            return
        self._reload_list()
        self.open_conversation(conv.id)
        self.focus_composer()
        self.status_message.emit(f"Forked into “{conv.title}”.")

    # files ------------------------------------------------------------------------
    def attach_files(self, paths: list[str]) -> None:
        """Read dropped or picked files on the io lane; each becomes a chip (or an error)."""
        from app.core.chat.attachments import AttachmentError, read_attachment

        def work(_cancel: threading.Event, _progress: ProgressFn) -> tuple[list[Any], list[str]]:
            read: list[Any] = []
            errors: list[str] = []
            for path in paths:
                try:
                    read.append(read_attachment(Path(path)))
                except AttachmentError as exc:
                    errors.append(str(exc))
            return read, errors

        self._file_job("attach", work, self._on_attached)

    def _on_attached(self, result: Any) -> None:
        read, errors = result
        self.composer.add_attachments(read)
        if errors:
            self.show_error("\n".join(errors))
        self.focus_composer()

    def export_conversation(self, conversation_id: int | None) -> None:
        """Ask where to save the conversation (Markdown, JSON or HTML), then write it."""
        conversation_id = conversation_id or self.conversation_id
        if conversation_id is None:
            return
        conv = self.ctx.store.get(conversation_id)
        dialog = QFileDialog(self, "Export conversation")
        dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        dialog.setNameFilters(list(EXPORT_FILTERS))
        safe = "".join(c if c.isalnum() or c in " -_" else "_" for c in conv.title).strip()
        dialog.selectFile(f"{safe or 'conversation'}.md")
        dialog.filterSelected.connect(lambda name: dialog.setDefaultSuffix(
            EXPORT_FILTERS.get(name, "md")))  # fmt: skip
        dialog.setDefaultSuffix("md")

        def chosen(path: str) -> None:
            fmt = EXPORT_FILTERS.get(dialog.selectedNameFilter(), "md")
            suffix = Path(path).suffix.lower().lstrip(".")
            self.export_to(conversation_id, Path(path), suffix if suffix in ("md", "json",
                                                                          "html") else fmt)

        dialog.fileSelected.connect(chosen)
        dialog.finished.connect(dialog.deleteLater)
        self.file_dialog = dialog
        dialog.open()

    def export_to(self, conversation_id: int, path: Path, fmt: str) -> None:
        from app.core.chat.export import export_conversation

        store = self.ctx.store

        def work(_cancel: threading.Event, _progress: ProgressFn) -> Path:
            text = export_conversation(store, conversation_id, fmt)
            try:
                path.write_text(text, encoding="utf-8")
            except OSError as exc:
                raise ParleyError(f"Couldn't write {path} ({exc.strerror or exc}).",
                                  "Choose a folder you can write to.") from exc  # fmt: skip
            return path

        self._file_job("export", work, lambda p: self.status_message.emit(f"Exported to {p}"))

    def import_conversation(self) -> None:
        dialog = QFileDialog(self, "Import conversation")
        dialog.setFileMode(QFileDialog.FileMode.ExistingFile)
        dialog.setNameFilters(["Conversations (*.json)", "All files (*)"])
        dialog.fileSelected.connect(lambda path: self.import_from(Path(path)))
        dialog.finished.connect(dialog.deleteLater)
        self.file_dialog = dialog
        dialog.open()

    def import_from(self, path: Path) -> None:
        """Import a Parley JSON export or OpenAI-style messages; open it when done."""
        from app.core.chat.importing import import_file

        store = self.ctx.store
        target = self._default_target_text()
        model = Target.parse(target).model if target else ""

        def work(_cancel: threading.Event, _progress: ProgressFn) -> Any:
            return import_file(store, path, target, default_sampling(model))

        self._file_job("import", work, self._on_imported)

    def _on_imported(self, result: Any) -> None:
        self._reload_list()
        self.open_conversation(result.conversation.id)
        skipped = f" ({result.skipped} of other roles left out)" if result.skipped else ""
        self.status_message.emit(
            f"Imported “{result.conversation.title}”: {result.messages} messages{skipped}."
        )

    def _file_job(
        self,
        purpose: str,
        work: Callable[[threading.Event, ProgressFn], Any],
        done: Callable[[Any], None],
    ) -> None:
        job = FunctionJob(work)
        self._file_jobs[purpose] = job.job_id

        def finished(job_id: int, result: Any) -> None:
            if self._file_jobs.get(purpose) == job_id and not self._closing:
                done(result)

        def failed(job_id: int, message: str) -> None:
            if self._file_jobs.get(purpose) == job_id and not self._closing:
                self.show_error(message)

        job.finished.connect(finished)
        job.failed.connect(failed)
        self.pool.submit(job, "io")

    def search(self, text: str) -> None:
        self._search = text
        self._reload_list()

    def choose_target(self, target: str) -> None:
        conv = self.current_conversation()
        if conv is not None:
            self.ctx.store.set_target(conv.id, target)
            self._redefault_sampling(conv, target)
        self._update_toolbar(target)

    def _redefault_sampling(self, conv: Conversation, target: str) -> None:
        """An unused conversation on its old model's defaults takes the new model's."""
        old = conversation_target(conv, self.ctx.default_target())
        if self.view.widgets or self.ctx.store.messages(conv.id):
            return
        if conv.sampling == default_sampling(old.model if old else ""):
            new_defaults = default_sampling(Target.parse(target).model)
            self.ctx.store.set_sampling(conv.id, new_defaults)

    def set_project(self, project: str) -> None:
        """Put the conversation in `project` ("" for none): its spend and budgets follow."""
        conv = self._ensure_conversation()
        try:
            self.ctx.store.set_project(conv.id, project)
        except ParleyError as exc:
            self.show_error(str(exc))
        self._reload_list()
        self._update_toolbar()

    def _quote_context(self) -> tuple[int | None, Target | None]:
        conv = self.current_conversation()
        return (conv.id if conv else None), conversation_target(conv, self.ctx.default_target())

    def set_local_only(self, local_only: bool) -> None:
        conv = self._ensure_conversation()
        if conv.local_only != local_only:
            self.ctx.store.set_local_only(conv.id, local_only)

    def open_settings(self) -> None:
        conv = self._ensure_conversation()
        target = conversation_target(conv, self.ctx.default_target())
        from app.ui.chat.settings_dialog import ConversationSettingsDialog

        local = None
        if target is not None and target.backend == LOCAL:
            try:
                local = self.ctx.catalog.resolve(target.model)
            except ParleyError:
                local = None  # a model since deleted: the dialog shows sampling only
        dialog = ConversationSettingsDialog(
            self.ctx.store, conv, default_sampling(target.model if target else ""), self,
            local_model=local, model_controls=self.ctx.model_controls,
        )  # fmt: skip
        dialog.saved.connect(self._on_settings_saved)
        dialog.finished.connect(self._on_settings_closed)
        self.settings_dialog = dialog
        if local is not None:
            # The fit verdict needs the GGUF header and the hardware: read off this thread.
            job = FunctionJob(functools.partial(_local_model_facts, local))
            job.finished.connect(self._on_local_model_facts)
            self.pool.submit(job, "io")
        dialog.open()

    def _on_local_model_facts(self, job_id: int, facts: tuple[Any, Any]) -> None:
        if self.settings_dialog is not None:
            self.settings_dialog.show_local_model(*facts)

    # turns ---------------------------------------------------------------------
    def send(self, text: str) -> None:
        if self.generating or not (text.strip() or self.composer.attachments):
            return
        conv = self._ensure_conversation()
        target = self._turn_target(conv)
        if target is None:
            return
        self._pending_prompt = text
        attachments = self.composer.take_attachments()
        self._pending_attachments = attachments
        self.composer.set_text("")
        placeholder = self._placeholder(conv.id, "user", text)
        self.view.append_message(dataclasses.replace(placeholder, attachments=attachments))
        start = functools.partial(self.ctx.chat.send, conv.id, text, target,
                                  attachments=attachments)  # fmt: skip
        self._start(conv.id, target, start)

    def regenerate(self) -> None:
        conv = self.current_conversation()
        if self.generating or conv is None or (target := self._turn_target(conv)) is None:
            return
        users = [i for i, w in enumerate(self.view.widgets) if w.role == "user"]
        self.view.truncate(users[-1] + 1 if users else 0)
        self._pending_prompt = ""
        self._start(conv.id, target, functools.partial(self.ctx.chat.regenerate, conv.id, target))

    def resend_edited(self, message_id: int, text: str) -> None:
        conv = self.current_conversation()
        if self.generating or conv is None or (target := self._turn_target(conv)) is None:
            return
        for index, widget in enumerate(self.view.widgets):
            if widget.message is not None and widget.message.id == message_id:
                widget.set_message(dataclasses.replace(widget.message, content=text))
                self.view.truncate(index + 1)
                break
        self._pending_prompt = ""
        start = functools.partial(self.ctx.chat.resend_edited, message_id, text, target)
        self._start(conv.id, target, start)

    def stop(self) -> None:
        self.runner.stop()

    def _start(self, conversation_id: int, target: Target, start_turn: TurnFactory) -> None:
        self.hide_error()
        placeholder = self._placeholder(conversation_id, "assistant", "", target)
        self.view.start_live(placeholder)
        self._loading_model = ""
        if target.backend == "local":
            # This turn's load reports here; a gateway request's load reports nowhere.
            start_turn = _reporting(start_turn, self.load_progress.report)
            if not self.ctx.local.is_loaded(target.model):
                self._loading_model = target.model
                self.view.show_loading(target.model, 0.0)  # "loading model", not "writing"
        self.runner.start(conversation_id, start_turn)
        self._set_generating(True)

    def _on_load_progress(self, model: str, fraction: float) -> None:
        if self._loading_model and self.runner.conversation_id == self.conversation_id:
            self.view.show_loading(model, fraction)

    def _end_loading(self) -> None:
        if self._loading_model:
            self._loading_model = ""
            self.view.show_loading("", None)
            self.model_changed.emit()  # the status bar names the model that just loaded

    def _on_text(self, text: str) -> None:
        self._end_loading()
        if self.runner.text == text:
            # The first text: the question is stored and may have titled the conversation.
            self._reload_list()
            self._update_title()
        if self.runner.conversation_id == self.conversation_id:
            self.view.append_live_text(text)

    def _on_finished(self, result: TurnResult) -> None:
        if self._closing:
            return
        if result.conversation_id == self.conversation_id:
            self.view.finish_live()
            self.view.set_messages(self._held_messages(result.conversation_id))
        self._reload_list()
        self._update_title()

    def _on_failed(self, message: str) -> None:
        if self._closing:
            return
        self.show_error(message)
        # A hard budget refused the turn (its question is stored): offer the one-click override.
        self.override_button.setVisible(message.startswith(BudgetExceededError.PREFIX))
        cid = self.runner.conversation_id
        messages = self._held_messages(cid) if cid is not None else []
        # A failure after the question was stored (a budget, say) keeps it; Regenerate retries.
        stored = bool(messages) and messages[-1].role == "user"
        stored = stored and messages[-1].content == self._pending_prompt
        if cid is not None and cid == self.conversation_id:
            self.view.stop_live()
            self.view.set_messages(messages)
        if self._pending_prompt and not self.composer.text().strip() and not stored:
            self.composer.set_text(self._pending_prompt)  # lose nothing the user typed
        if self._pending_attachments and not stored and not self.composer.attachments:
            self.composer.add_attachments(list(self._pending_attachments))
        self._reload_list()

    def _on_ended(self) -> None:
        self._pending_prompt = ""
        self._pending_attachments = ()
        self._end_loading()
        self._set_generating(False)
        if self._closing:
            return
        self.context_meter.schedule()  # the answer is history now; the model may be loaded
        self.model_changed.emit()
        if not self._typing_elsewhere():
            self.focus_composer()  # ready for the next message
        if self.view.live_widget is not None and self.conversation_id is not None:
            # Cancelled before it started: nothing was stored.
            self.view.stop_live()
            self.view.set_messages(self._held_messages(self.conversation_id))

    # errors --------------------------------------------------------------------
    def show_error(self, message: str) -> None:
        self.banner.setText(message)
        self.banner.show()

    def hide_error(self) -> None:
        self.banner.clear()
        self.banner.hide()
        self.override_button.hide()

    def show_budget_warning(self, message: str) -> None:
        self.show_error(message)

    def override_budget(self) -> None:
        self.ctx.ledger.override_budget_once()
        self.regenerate()

    # internals -----------------------------------------------------------------
    def _set_generating(self, generating: bool) -> None:
        self.composer.set_generating(generating)
        self.view.set_generating(generating)

    def _typing_elsewhere(self) -> bool:
        """Whether the user is in another text field or window (don't take the focus)."""
        focused = QApplication.focusWidget()
        if focused is None or focused is self.composer.editor:
            return False
        if focused.window() is not self.window():
            return True
        if isinstance(focused, QTextEdit | QPlainTextEdit):
            return not focused.isReadOnly()
        return isinstance(focused, QLineEdit | QAbstractSpinBox)

    def _is_running_in(self, conversation_id: int) -> bool:
        return self.runner.running and self.runner.conversation_id == conversation_id

    def _attach_live(self, messages: list[Message]) -> None:
        """Reopened the conversation being answered: stream into its last message again."""
        if not self._is_running_in(self.conversation_id or -1):
            return
        last = messages[-1] if messages else None
        if last is not None and last.role == "assistant" and last.outcome == Outcome.STREAMING:
            self.view.start_live(last, self.runner.text)

    def _held_messages(self, conversation_id: int) -> list[Message]:
        """The stored messages the view holds (its newest part), to refresh it after a turn."""
        since = self.view.first_position if conversation_id == self.conversation_id else 0
        return self.ctx.store.messages(conversation_id, since)

    def _recover_interrupted(self) -> None:
        """Answers left `streaming` by a crashed process become `interrupted`."""
        try:
            self.ctx.recover_interrupted()
        except ParleyError as exc:
            logger.warning("could not recover interrupted answers: %s", exc)

    def _reload_list(self) -> None:
        # A full-text search runs on the db lane; only the newest one's results are shown.
        from app.core.chat.folders import FolderStore

        if self._search_job is not None:
            self._search_job.cancel()
            self._search_job = None
        self.conversations.set_folders(FolderStore(self.ctx.db).list())
        folder = self.conversations.current_folder()
        if not self._search.strip():
            self.conversations.set_conversations(
                self.ctx.store.list(folder_id=folder), self.conversation_id
            )
            return
        store, text = self.ctx.store, self._search
        job = FunctionJob(lambda _cancel, _progress: store.list(text, folder_id=folder))
        job.finished.connect(self._on_search_results)
        self._search_job = job
        self.pool.submit(job, "db")

    def _on_search_results(self, job_id: int, conversations: list[Conversation]) -> None:
        if self._search_job is not None and job_id == self._search_job.job_id:
            self._search_job = None
            self.conversations.set_conversations(conversations, self.conversation_id)

    def _update_title(self) -> None:
        conv = self.current_conversation()
        self.toolbar.set_title(conv.title if conv else "New conversation")

    def _update_toolbar(self, target_text: str | None = None) -> None:
        self._update_title()
        conv = self.current_conversation()
        self.toolbar.set_local_only(bool(conv and conv.local_only))
        self.toolbar.project_chooser.set_projects(ProjectStore(self.ctx.db).names(),
                                                  conv.project if conv else None)  # fmt: skip
        self.cost_preview.schedule()  # another conversation or target: another price
        self.context_meter.schedule()
        if target_text is None:
            target = conversation_target(conv, self.ctx.default_target())
            target_text = str(target) if target else ""
        self.target_picker.set_options(self.ctx.target_options(), target_text)

    def _default_target_text(self) -> str:
        target = self.ctx.default_target()
        return str(target) if target else ""

    def _create_conversation(self, target: str) -> Conversation:
        model = Target.parse(target).model if target else ""
        conv = self.ctx.store.create(target=target, sampling=default_sampling(model))
        self._reload_list()
        return conv

    def _ensure_conversation(self) -> Conversation:
        conv = self.current_conversation()
        if conv is None:
            target = self.target_picker.current_target() or self._default_target_text()
            conv = self._create_conversation(target)
            self.conversation_id = conv.id
            self.conversations.select(conv.id, notify=False)
        return conv

    def _turn_target(self, conv: Conversation) -> Target | None:
        target = conversation_target(conv, self.ctx.default_target())
        if target is None:
            self.show_error(NO_MODEL)
        return target

    @staticmethod
    def _placeholder(
        conversation_id: int, role: str, text: str, target: Target | None = None
    ) -> Message:
        """A message shown before the store has it (id 0); replaced when the turn ends."""
        return Message(
            id=0,
            conversation_id=conversation_id,
            position=-1,
            role=role,
            content=text,
            created_at=time.time(),
            backend=target.backend if target else None,
            model=target.model if target else None,
            outcome=str(Outcome.STREAMING) if role == "assistant" else None,
        )

    def _on_settings_saved(self, conversation_id: int) -> None:
        self._reload_list()  # the project shows in the list
        if conversation_id == self.conversation_id:
            self._update_toolbar()

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange:
            self.setStyleSheet(chat_style(self.palette()))  # a dark theme, a dark chat

    def _on_settings_closed(self, _result: int) -> None:
        if self.settings_dialog is not None:
            self.settings_dialog.deleteLater()
            self.settings_dialog = None


def _reporting(turn: TurnFactory, report: Callable[[str, float], None]) -> TurnFactory:
    """`turn`, with this tab hearing of the model load it causes."""

    def start(
        cancel: Event, *, on_load_progress: Callable[[str, float], None] | None = None
    ) -> Generator[str, None, TurnResult]:
        return turn(cancel, on_load_progress=on_load_progress or report)

    return start
