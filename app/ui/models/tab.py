"""Models tab: Find (Hugging Face) · Downloads · Installed · Hardware.

Nothing touches the network while the window is built: the first time the tab
is shown it searches (default: Mistral Small 3.x GGUF repos), probes the
hardware and looks for GGUFs elsewhere. Downloads left from last time resume at
start (the main window's `DownloadManager`); a tab on its own resumes them when
first shown.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QCoreApplication, Signal
from PySide6.QtWidgets import QTabWidget, QVBoxLayout, QWidget

from app.ui.models.downloads_panel import DownloadsPanel
from app.ui.models.hardware_panel import HardwarePanel
from app.ui.models.installed_panel import InstalledPanel
from app.ui.models.search_panel import SearchPanel

if TYPE_CHECKING:
    from PySide6.QtGui import QShowEvent

    from app.core.context import AppContext
    from app.core.local.remote_fit import AssessedModel
    from app.workers import WorkerPool
    from app.workers.downloads import DownloadManager


class ModelsTab(QWidget):
    """Signals:
    first_shown(): the tab was shown for the first time and started its background loads
    models_changed(): the installed models or the active one changed
    """

    first_shown = Signal()
    models_changed = Signal()

    def __init__(
        self,
        ctx: AppContext,
        pool: WorkerPool,
        parent: QWidget | None = None,
        downloads: DownloadManager | None = None,
    ) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.pool = pool
        self.started = False
        self.search = SearchPanel(pool, self)
        self.downloads = DownloadsPanel(ctx, pool, self, manager=downloads)
        self.installed = InstalledPanel(ctx, pool, self)
        self.hardware = HardwarePanel(pool, self)
        self.pages = QTabWidget(self)
        self.pages.addTab(self.search, "Find on Hugging Face")
        self.pages.addTab(self.downloads, "Downloads")
        self.pages.addTab(self.installed, "Installed")
        self.pages.addTab(self.hardware, "Hardware")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.pages)
        self.search.download_requested.connect(self._on_download_requested)
        self.downloads.download_finished.connect(self._on_download_finished)
        self.installed.models_changed.connect(self._on_models_changed)
        self.hardware.probed.connect(self.installed.set_hardware)
        app = QCoreApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.shutdown)

    # The table the chat and billing engineers' code expects (main window calls refresh()).
    @property
    def table(self) -> QWidget:
        return self.installed.table

    def refresh(self) -> None:
        self.installed.refresh()

    def shutdown(self) -> None:
        """Before the worker pool stops: downloads stay resumable at the next start."""
        self.downloads.shutdown()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if not self.started:
            self.started = True
            self.search.search()
            self.hardware.start_probe()
            self.installed.find_elsewhere()
            self.downloads.resume_all()
            self.first_shown.emit()

    def _on_download_requested(self, assessed: AssessedModel) -> None:
        entry_id = self.downloads.add(assessed)
        self.pages.setCurrentWidget(self.downloads)
        self.downloads.select(entry_id)

    def _on_download_finished(self, entry_id: int) -> None:
        self.installed.refresh()
        self.models_changed.emit()

    def _on_models_changed(self) -> None:
        self.models_changed.emit()
