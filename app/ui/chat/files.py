"""Files in and out of the chat: attachments read for the message box, conversations exported
(Markdown, JSON, HTML) and imported. Each reads or writes on the io lane."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QFileDialog, QWidget

from app.core.foundation.errors import ParleyError
from app.core.llm.sampling_defaults import default_sampling
from app.core.llm.targets import Target
from app.workers import FunctionJob

if TYPE_CHECKING:
    import threading
    from collections.abc import Callable

    from app.core.chat.attachments import AttachmentBatch
    from app.ui.chat.banner import ErrorBanner
    from app.ui.chat.composer import Composer
    from app.ui.chat.session import ChatSession
    from app.workers import WorkerPool
    from app.workers.jobs import ProgressFn

EXPORT_FILTERS = {"Markdown (*.md)": "md", "JSON (*.json)": "json", "HTML (*.html)": "html"}


class ChatFiles(QObject):
    """Only the newest job of each kind (attach, export, import) reports back.

    Signals:
        conversation_imported(conversation_id)
        status_message(text)
    """

    conversation_imported = Signal(int)
    status_message = Signal(str)

    def __init__(
        self,
        session: ChatSession,
        pool: WorkerPool,
        composer: Composer,
        banner: ErrorBanner,
        host: QWidget,
    ) -> None:
        super().__init__(host)
        self.host = host  # the tab: its file dialogs open over it
        self.session = session
        self.store = session.ctx.store
        self.pool = pool
        self.composer = composer
        self.banner = banner
        self.file_dialog: QFileDialog | None = None
        self._jobs: dict[str, int] = {}
        composer.files_chosen.connect(self.attach_files)

    # attachments -------------------------------------------------------------------
    def attach_files(self, paths: list[str]) -> None:
        """Read dropped or picked files on the io lane; each becomes a chip (or an error)."""
        from app.core.chat.attachments import read_attachments

        def work(cancel: threading.Event, _progress: ProgressFn) -> AttachmentBatch:
            return read_attachments([Path(p) for p in paths], cancel)

        self._file_job("attach", work, self._on_attached)

    def _on_attached(self, batch: AttachmentBatch) -> None:
        """Every file that read becomes a chip; each one that didn't (or only in part) is
        named in the banner."""
        self.composer.add_attachments(list(batch.attachments))
        if batch.problems or batch.notes:
            self.banner.show_error("\n".join([*batch.problems, *batch.notes]))
        self.composer.focus_editor()

    # export --------------------------------------------------------------------------
    def export_conversation(self, conversation_id: int | None) -> None:
        """Ask where to save the conversation (Markdown, JSON or HTML), then write it."""
        conversation_id = conversation_id or self.session.conversation_id
        if conversation_id is None:
            return
        conv = self.store.get(conversation_id)
        dialog = QFileDialog(self.host, "Export conversation")
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

        store = self.store

        def work(_cancel: threading.Event, _progress: ProgressFn) -> Path:
            text = export_conversation(store, conversation_id, fmt)
            try:
                path.write_text(text, encoding="utf-8")
            except OSError as exc:
                raise ParleyError(f"Couldn't write {path} ({exc.strerror or exc}).",
                                  "Choose a folder you can write to.") from exc  # fmt: skip
            return path

        self._file_job("export", work, lambda p: self.status_message.emit(f"Exported to {p}"))

    # import --------------------------------------------------------------------------
    def import_conversation(self) -> None:
        dialog = QFileDialog(self.host, "Import conversation")
        dialog.setFileMode(QFileDialog.FileMode.ExistingFile)
        dialog.setNameFilters(["Conversations (*.json)", "All files (*)"])
        dialog.fileSelected.connect(lambda path: self.import_from(Path(path)))
        dialog.finished.connect(dialog.deleteLater)
        self.file_dialog = dialog
        dialog.open()

    def import_from(self, path: Path) -> None:
        """Import a Parley JSON export or OpenAI-style messages; open it when done."""
        from app.core.chat.importing import import_file

        store = self.store
        target = self.session.default_target_text()
        model = Target.parse(target).model if target else ""

        def work(_cancel: threading.Event, _progress: ProgressFn) -> Any:
            return import_file(store, path, target, default_sampling(model))

        self._file_job("import", work, self._on_imported)

    def _on_imported(self, result: Any) -> None:
        self.session.stored()
        self.conversation_imported.emit(result.conversation.id)
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
        self._jobs[purpose] = job.job_id

        def finished(job_id: int, result: Any) -> None:
            if self._jobs.get(purpose) == job_id and not self.session.closing:
                done(result)

        def failed(job_id: int, message: str) -> None:
            if self._jobs.get(purpose) == job_id and not self.session.closing:
                self.banner.show_error(message)

        job.finished.connect(finished)
        job.failed.connect(failed)
        self.pool.submit(job, "io")
