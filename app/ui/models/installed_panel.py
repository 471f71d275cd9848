"""Installed models: set active (loaded off the GUI thread), delete, import, use in place,
and each model's load controls with its fit verdict."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPushButton,
    QSizePolicy,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.core.foundation.errors import ParleyError
from app.core.local.model_controls import ModelControls
from app.core.local.model_import import FoundModel, delete_model, find_existing, import_model
from app.ui.locale_format import number
from app.ui.models import format as fmt
from app.ui.models.controls_form import ModelControlsForm, model_shape
from app.ui.safe_text import plain_label
from app.workers import FunctionJob

if TYPE_CHECKING:
    import threading

    from PySide6.QtGui import QDragEnterEvent, QDropEvent

    from app.core.context import AppContext
    from app.core.local.catalog import InstalledModel
    from app.core.local.fit import ModelShape
    from app.core.local.hardware import Hardware
    from app.workers import WorkerPool

COLUMNS = ("Name", "Size", "Quantization", "Architecture", "Context", "Path")
FOUND_COLUMNS = ("Name", "Found in", "Size", "Path")


def _activate(ctx: AppContext, name: str, cancel: threading.Event, progress: Any) -> str:
    model = ctx.catalog.set_active(name)
    in_folder = model.path.parent == ctx.catalog.models_dir
    ctx.local.preload(model.name if in_folder else str(model.path))
    return model.name


def _delete(ctx: AppContext, name: str, cancel: threading.Event, progress: Any) -> str:
    return delete_model(ctx.catalog, ctx.local, name).name


def _import(models_dir: Path, path: Path, link: bool, cancel: threading.Event,
            progress: Any) -> str:  # fmt: skip
    return import_model(path, models_dir, link=link, cancel=cancel, progress=progress).stem


def _find(models_dir: Path, cancel: threading.Event, progress: Any) -> list[FoundModel]:
    return find_existing(models_dir)


def _shape(model: InstalledModel, cancel: threading.Event, progress: Any) -> Any:
    return model, model_shape(model)


def _table(columns: tuple[str, ...], parent: QWidget) -> QTableWidget:
    table = QTableWidget(0, len(columns), parent)
    table.setHorizontalHeaderLabels(columns)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    table.verticalHeader().setVisible(False)
    table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    table.horizontalHeader().setStretchLastSection(True)
    return table


class InstalledPanel(QWidget):
    """Signals:
    models_changed(): a model was installed, removed or made active
    action_finished(str): an activate/delete/import job ended, with its message
    found_loaded(int): GGUFs found elsewhere were listed (their count)
    controls_shown(str): a model's load controls are in the form (its name)
    controls_saved(str): a model's load controls were saved (its name)
    """

    models_changed = Signal()
    action_finished = Signal(str)
    found_loaded = Signal(int)
    controls_shown = Signal(str)
    controls_saved = Signal(str)

    def __init__(self, ctx: AppContext, pool: WorkerPool, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.pool = pool
        self.models: list[InstalledModel] = []
        self.found: list[FoundModel] = []
        self._messages: dict[int, str] = {}  # job id -> what to say when it finishes
        self.setAcceptDrops(True)
        self.table = _table(COLUMNS, self)
        self.empty = QLabel("No local models yet: download one from Find, or drop a .gguf here.")
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.activate_button = QPushButton("Set active")
        self.delete_button = QPushButton("Delete…")
        self.import_button = QPushButton("Import .gguf…")
        self.activate_button.clicked.connect(self._on_activate_clicked)
        self.delete_button.clicked.connect(self._on_delete_clicked)
        self.import_button.clicked.connect(self._on_import_clicked)
        self.found_table = _table(FOUND_COLUMNS, self)
        self.use_button = QPushButton("Use in place")
        self.use_button.clicked.connect(self._on_use_in_place_clicked)
        self.status = plain_label(QLabel(""))
        self.status.setWordWrap(True)
        self.controls_box = QGroupBox("Load settings", self)
        # Its natural height: the tables above and below take what is left.
        self.controls_box.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
        self.controls_form = ModelControlsForm(self.controls_box)
        self.save_controls_button = QPushButton("Save settings")
        self.default_controls_button = QPushButton("Defaults")
        self.save_controls_button.clicked.connect(self.save_controls)
        self.default_controls_button.clicked.connect(self._on_default_controls_clicked)
        self.controls_form.changed.connect(self._on_controls_edited)
        controls_buttons = QHBoxLayout()
        controls_buttons.addStretch(1)
        controls_buttons.addWidget(self.default_controls_button)
        controls_buttons.addWidget(self.save_controls_button)
        box_layout = QVBoxLayout(self.controls_box)
        box_layout.addWidget(self.controls_form)
        box_layout.addLayout(controls_buttons)
        self.table.itemSelectionChanged.connect(self._on_selection_changed)
        buttons = QHBoxLayout()
        for b in (self.activate_button, self.delete_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        buttons.addWidget(self.import_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table, 2)
        layout.addWidget(self.empty, 2)
        layout.addLayout(buttons)
        layout.addWidget(self.status)
        layout.addWidget(self.controls_box)
        layout.addWidget(QLabel("<b>Already on this computer</b> (Hugging Face cache, LM Studio)"))
        layout.addWidget(self.found_table, 1)
        layout.addWidget(self.use_button, 0, Qt.AlignmentFlag.AlignRight)
        self.refresh()

    def refresh(self) -> None:
        self.models = self.ctx.catalog.list()
        active = self.ctx.catalog.active()
        self.table.setRowCount(len(self.models))
        for row, m in enumerate(self.models):
            cells = (f"{m.name}  (active)" if m == active else m.name, fmt.size(m.size_bytes),
                     m.quantization or "?", m.architecture,
                     number(m.context_length) if m.context_length else "?",
                     str(m.path))  # fmt: skip
            for col, text in enumerate(cells):
                self.table.setItem(row, col, QTableWidgetItem(text))
        self.table.setVisible(bool(self.models))
        self.empty.setVisible(not self.models)
        self.controls_box.setVisible(bool(self.models))
        if self.models and not self.table.selectionModel().selectedRows():
            row = self.models.index(active) if active in self.models else 0
            self.table.selectRow(row)
        self._on_selection_changed()

    def selected(self) -> InstalledModel | None:
        rows = self.table.selectionModel().selectedRows()
        return self.models[rows[0].row()] if rows else None

    def set_hardware(self, hw: Hardware) -> None:
        self.controls_form.set_hardware(hw)

    def save_controls(self) -> None:
        """Save the form as the selected model's controls (they apply at its next load)."""
        model = self.controls_form.model
        if model is None:
            return
        try:
            self.ctx.model_controls.set(model.name, self.controls_form.controls())
        except ParleyError as exc:
            self.status.setText(str(exc))
            return
        self.status.setText(f"Saved {model.name}'s settings; they apply when it next loads.")
        self.save_controls_button.setEnabled(False)
        self.controls_saved.emit(model.name)

    # actions -------------------------------------------------------------
    def activate(self, name: str) -> None:
        self.status.setText(f"Loading {name}…")
        job = FunctionJob(functools.partial(_activate, self.ctx, name))
        self._run(job, "local", f"{name} is the active model.")

    def delete(self, name: str) -> None:
        job = FunctionJob(functools.partial(_delete, self.ctx, name))
        self._run(job, "local", f"Deleted {name}.")

    def import_paths(self, paths: list[Path], link: bool = False) -> None:
        for path in paths:
            job = FunctionJob(functools.partial(_import, self.ctx.catalog.models_dir, path, link))
            verb = "Using" if link else "Imported"
            self.status.setText(f"Importing {path.name}…")
            self._run(job, "io", f"{verb} {path.name}.")

    def find_elsewhere(self) -> None:
        job = FunctionJob(functools.partial(_find, self.ctx.catalog.models_dir))
        job.finished.connect(self._on_found)
        job.failed.connect(self._on_failed)
        self.pool.submit(job, "io")

    def _run(self, job: FunctionJob, lane: str, message: str) -> None:
        self._messages[job.job_id] = message
        job.finished.connect(self._on_action_finished)
        job.failed.connect(self._on_failed)
        self.pool.submit(job, lane)

    # slots ------------------------------------------------------------------
    def _on_selection_changed(self) -> None:
        model = self.selected()
        if model is None or model == self.controls_form.model:
            return
        self.controls_box.setTitle(f"Load settings for {model.name}")
        self.controls_form.show_model(model, self.ctx.model_controls.get(model.name))
        self.save_controls_button.setEnabled(False)
        job = FunctionJob(functools.partial(_shape, model))  # reads the GGUF header
        job.finished.connect(self._on_shape)
        job.failed.connect(self._on_failed)
        self.pool.submit(job, "io")

    def _on_shape(self, job_id: int, result: tuple[InstalledModel, ModelShape | None]) -> None:
        model, shape = result
        if model != self.controls_form.model:
            return  # the user moved on
        self.controls_form.set_shape(shape)
        self.controls_shown.emit(model.name)

    def _on_controls_edited(self) -> None:
        self.save_controls_button.setEnabled(True)

    def _on_default_controls_clicked(self) -> None:
        model = self.controls_form.model
        if model is not None:
            self.controls_form.set_controls(ModelControls())
            self.save_controls_button.setEnabled(True)

    def _on_activate_clicked(self) -> None:
        if m := self.selected():
            self.activate(m.name)

    def _on_delete_clicked(self) -> None:
        m = self.selected()
        if m is None:
            return
        linked = m.path.is_symlink()
        what = "the link (your file stays where it is)" if linked else fmt.size(m.size_bytes)
        answer = QMessageBox.question(self, "Delete model", f"Delete {m.name}? This frees {what}.")
        if answer == QMessageBox.StandardButton.Yes:
            self.delete(m.name)

    def _on_import_clicked(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Import a model", str(Path.home()),
                                              "GGUF models (*.gguf)")  # fmt: skip
        if path:
            self.import_paths([Path(path)])

    def _on_use_in_place_clicked(self) -> None:
        rows = self.found_table.selectionModel().selectedRows()
        if rows:
            self.import_paths([self.found[rows[0].row()].path], link=True)

    def _on_action_finished(self, job_id: int, result: object) -> None:
        message = self._messages.pop(job_id, "Done.")
        self.status.setText(message)
        self.refresh()
        self.find_elsewhere()
        self.models_changed.emit()
        self.action_finished.emit(message)

    def _on_failed(self, job_id: int, message: str) -> None:
        self._messages.pop(job_id, None)
        self.status.setText(message)
        self.refresh()
        self.action_finished.emit(message)

    def _on_found(self, job_id: int, found: list[FoundModel]) -> None:
        self.found = found
        self.found_table.setRowCount(len(found))
        for row, f in enumerate(found):
            for col, text in enumerate((f.name, f.source, fmt.size(f.size), str(f.path))):
                self.found_table.setItem(row, col, QTableWidgetItem(text))
        self.use_button.setEnabled(bool(found))
        self.found_loaded.emit(len(found))

    # drag and drop ----------------------------------------------------------
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if any(u.toLocalFile().lower().endswith(".gguf") for u in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = [Path(u.toLocalFile()) for u in event.mimeData().urls()
                 if u.toLocalFile().lower().endswith(".gguf")]  # fmt: skip
        if paths:
            event.acceptProposedAction()
            self.import_paths(paths)
