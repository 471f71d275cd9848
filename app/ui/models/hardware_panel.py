"""What Parley detected: CPU, RAM, GPUs, llama.cpp backend (probed on the io lane)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Signal
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import QLabel, QPlainTextEdit, QPushButton, QVBoxLayout, QWidget

from app.core.local.hardware import Hardware, cached_probe, summary_lines
from app.workers import FunctionJob

if TYPE_CHECKING:
    import threading

    from app.workers import WorkerPool


def _probe(cancel: threading.Event, progress: Any) -> Hardware:
    return cached_probe(refresh=True)


class HardwarePanel(QWidget):
    """Signals:
    probed(Hardware): a probe finished
    """

    probed = Signal(object)

    def __init__(self, pool: WorkerPool, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.pool = pool
        self.hardware: Hardware | None = None
        self.text = QPlainTextEdit(self)
        self.text.setReadOnly(True)
        self.text.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.text.setPlaceholderText("Detecting hardware…")
        self.status = QLabel("")
        self.refresh_button = QPushButton("Detect again")
        self.refresh_button.clicked.connect(self.start_probe)
        layout = QVBoxLayout(self)
        layout.addWidget(self.text, 1)
        layout.addWidget(self.status)
        layout.addWidget(self.refresh_button)

    def start_probe(self) -> None:
        self.refresh_button.setEnabled(False)
        job = FunctionJob(_probe)
        job.finished.connect(self._on_finished)
        job.failed.connect(self._on_failed)
        self.pool.submit(job, "io")

    def _on_finished(self, job_id: int, hw: Hardware) -> None:
        self.hardware = hw
        self.text.setPlainText("\n".join(summary_lines(hw)))
        self.refresh_button.setEnabled(True)
        self.probed.emit(hw)

    def _on_failed(self, job_id: int, message: str) -> None:
        self.status.setText(message)
        self.refresh_button.setEnabled(True)
