"""The open conversation's choices, on its toolbar: where its turns go, its project, Local
only, and its Settings (system prompt, sampling, a local model's controls)."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Signal

from app.core.foundation.errors import ParleyError
from app.core.llm.sampling_defaults import default_sampling
from app.core.llm.targets import LOCAL, Target
from app.workers import FunctionJob

if TYPE_CHECKING:
    from PySide6.QtWidgets import QWidget

    from app.core.chat.conversations import Conversation
    from app.core.local.catalog import InstalledModel
    from app.ui.chat.banner import ErrorBanner
    from app.ui.chat.message_view import MessageView
    from app.ui.chat.session import ChatSession
    from app.ui.chat.settings_dialog import ConversationSettingsDialog
    from app.ui.chat.toolbar import ConversationToolbar
    from app.workers import WorkerPool


def _local_model_facts(model: InstalledModel, cancel: Any, progress: Any) -> tuple[Any, Any]:
    """(shape, hardware) for the settings dialog's fit verdict; reads files: a worker's job."""
    from app.core.local.hardware import cached_probe
    from app.ui.models.controls_form import model_shape

    return model_shape(model), cached_probe()


class ConversationOptions(QObject):
    """Keeps the toolbar showing the open conversation, and stores what the user picks there.

    Signals:
        target_shown: another conversation or target is on the toolbar (another price)
    """

    target_shown = Signal()

    def __init__(
        self,
        session: ChatSession,
        pool: WorkerPool,
        toolbar: ConversationToolbar,
        view: MessageView,
        banner: ErrorBanner,
        host: QWidget,
    ) -> None:
        super().__init__(host)
        self.host = host  # the tab: its dialogs open over it and take its style
        self.session = session
        self.ctx = session.ctx
        self.pool = pool
        self.toolbar = toolbar
        self.view = view
        self.banner = banner
        self.projects = self.ctx.projects
        self.settings_dialog: ConversationSettingsDialog | None = None
        toolbar.target_chosen.connect(self.choose_target)
        toolbar.local_only_toggled.connect(self.set_local_only)
        toolbar.settings_requested.connect(self.open_settings)
        toolbar.project_chosen.connect(self.set_project)
        session.conversations_changed.connect(self.update_title)

    def update_title(self) -> None:
        conv = self.session.current_conversation()
        self.toolbar.set_title(conv.title if conv else "New conversation")

    def update_toolbar(self, target_text: str | None = None) -> None:
        self.update_title()
        conv = self.session.current_conversation()
        self.toolbar.set_local_only(bool(conv and conv.local_only))
        self.toolbar.project_chooser.set_projects(self.projects.names(),
                                                  conv.project if conv else None)  # fmt: skip
        self.target_shown.emit()
        if target_text is None:
            target = self.session.target(conv)
            target_text = str(target) if target else ""
        self.toolbar.target_picker.set_options(self.ctx.target_options(), target_text)

    # what the user picks -----------------------------------------------------------
    def choose_target(self, target: str) -> None:
        conv = self.session.current_conversation()
        if conv is not None:
            self.ctx.store.set_target(conv.id, target)
            self._redefault_sampling(conv, target)
        self.update_toolbar(target)

    def _redefault_sampling(self, conv: Conversation, target: str) -> None:
        """An unused conversation on its old model's defaults takes the new model's."""
        old = self.session.target(conv)
        if self.view.widgets or self.ctx.store.messages(conv.id):
            return
        if conv.sampling == default_sampling(old.model if old else ""):
            new_defaults = default_sampling(Target.parse(target).model)
            self.ctx.store.set_sampling(conv.id, new_defaults)

    def set_project(self, project: str) -> None:
        """Put the conversation in `project` ("" for none): its spend and budgets follow."""
        conv = self.session.ensure_conversation()
        try:
            self.ctx.store.set_project(conv.id, project)
        except ParleyError as exc:
            self.banner.show_error(str(exc))
        self.session.stored()
        self.update_toolbar()

    def set_local_only(self, local_only: bool) -> None:
        conv = self.session.ensure_conversation()
        if conv.local_only != local_only:
            self.ctx.store.set_local_only(conv.id, local_only)

    # the Settings dialog -----------------------------------------------------------
    def open_settings(self) -> None:
        conv = self.session.ensure_conversation()
        target = self.session.target(conv)
        from app.ui.chat.settings_dialog import ConversationSettingsDialog

        local = None
        if target is not None and target.backend == LOCAL:
            try:
                local = self.ctx.catalog.resolve(target.model)
            except ParleyError:
                local = None  # a model since deleted: the dialog shows sampling only
        dialog = ConversationSettingsDialog(
            self.ctx.store, conv, default_sampling(target.model if target else ""),
            self.host, local_model=local, model_controls=self.ctx.model_controls,
            projects=self.projects.names(),
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

    def _on_settings_saved(self, conversation_id: int) -> None:
        self.session.stored()  # the project shows in the list
        if conversation_id == self.session.conversation_id:
            self.update_toolbar()

    def _on_settings_closed(self, _result: int) -> None:
        if self.settings_dialog is not None:
            self.settings_dialog.deleteLater()
            self.settings_dialog = None
