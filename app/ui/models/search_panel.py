"""Find a GGUF on Hugging Face: search → repo's files with a fit verdict → Download."""

from __future__ import annotations

import functools
import html
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.core.local import hub
from app.core.local.fit import Verdict, speed_range
from app.core.local.remote_fit import AssessedModel, assess_repo
from app.ui.models import format as fmt
from app.ui.safe_text import plain_label, plain_tip
from app.workers import FunctionJob

if TYPE_CHECKING:
    import threading

    from app.core.local.hub import RepoSummary
    from app.workers import WorkerPool

REPO_COLUMNS = ("Repo", "Author", "Downloads", "Likes", "License", "Updated")
FILE_COLUMNS = ("File", "Quantization", "Size", "Parts", "Fit", "Speed")
SORTS = (("Most downloaded", "downloads"), ("Most liked", "likes"), ("Recently updated", "updated"))


def _search(query: str, sort: str, cancel: threading.Event, progress: Any) -> list[RepoSummary]:
    return hub.search(query, sort)


def _files(repo: str, n_ctx: int, cancel: threading.Event, progress: Any) -> list[AssessedModel]:
    return assess_repo(repo, n_ctx, cancel=cancel)


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


class SearchPanel(QWidget):
    """Signals:
    results_loaded(int): search results shown (their count)
    files_loaded(str): the files of a repo shown
    download_requested(object): an AssessedModel the user wants
    """

    results_loaded = Signal(int)
    files_loaded = Signal(str)
    download_requested = Signal(object)

    def __init__(self, pool: WorkerPool, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.pool = pool
        self.results: list[RepoSummary] = []
        self.files: list[AssessedModel] = []
        self._search_job = 0
        self._files_job = 0
        self._jobs: dict[int, FunctionJob] = {}

        self.query = QLineEdit(hub.DEFAULT_QUERY, self)
        self.query.setPlaceholderText("Search GGUF models on Hugging Face")
        self.query.returnPressed.connect(self.search)
        self.sort = QComboBox(self)
        for label, value in SORTS:
            self.sort.addItem(label, value)
        self.sort.currentIndexChanged.connect(self.search)
        self.search_button = QPushButton("Search")
        self.search_button.clicked.connect(self.search)
        bar = QHBoxLayout()
        bar.addWidget(self.query, 1)
        bar.addWidget(self.sort)
        bar.addWidget(self.search_button)

        self.repos = _table(REPO_COLUMNS, self)
        self.repos.itemSelectionChanged.connect(self._on_repo_selected)
        self.file_table = _table(FILE_COLUMNS, self)
        self.file_table.itemSelectionChanged.connect(self._on_file_selected)
        self.context = QSpinBox(self)
        self.context.setRange(512, 131072)
        self.context.setSingleStep(1024)
        self.context.setValue(4096)
        self.context.setPrefix("Context: ")
        self.context.setSuffix(" tokens")
        self.context.editingFinished.connect(self._reload_files)
        self.explanation = QLabel("")
        self.explanation.setWordWrap(True)
        self.explanation.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.download_button = QPushButton("Download")
        self.download_button.setEnabled(False)
        self.download_button.clicked.connect(self._on_download)
        self.status = plain_label(QLabel(""))
        self.status.setWordWrap(True)

        files_box = QWidget(self)
        files_layout = QVBoxLayout(files_box)
        files_layout.setContentsMargins(0, 0, 0, 0)
        files_layout.addWidget(self.file_table, 1)
        row = QHBoxLayout()
        row.addWidget(self.context)
        row.addStretch(1)
        row.addWidget(self.download_button)
        files_layout.addWidget(self.explanation)
        files_layout.addLayout(row)
        split = QSplitter(Qt.Orientation.Vertical, self)
        split.addWidget(self.repos)
        split.addWidget(files_box)
        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        layout.addWidget(self.status)
        layout.addWidget(split, 1)

    # search ---------------------------------------------------------------
    def search(self) -> None:
        self._cancel(self._search_job)
        job = FunctionJob(functools.partial(_search, self.query.text().strip(),
                                            str(self.sort.currentData())))  # fmt: skip
        self._search_job = job.job_id
        self.status.setText("Searching Hugging Face…")
        self._submit(job, self._on_results)

    def _on_results(self, job_id: int, results: list[RepoSummary]) -> None:
        if job_id != self._search_job:
            return  # a newer search replaced this one
        self.results = results
        self.repos.setRowCount(len(results))
        for row, r in enumerate(results):
            cells = (r.repo_id, r.author, fmt.count(r.downloads), str(r.likes), r.license or "",
                     (r.updated or "")[:10])  # fmt: skip
            for col, text in enumerate(cells):
                self.repos.setItem(row, col, QTableWidgetItem(text))
        self.status.setText("" if results else "No GGUF repos match.")
        self.results_loaded.emit(len(results))

    # files ---------------------------------------------------------------
    def selected_repo(self) -> str | None:
        rows = self.repos.selectionModel().selectedRows()
        return self.results[rows[0].row()].repo_id if rows else None

    def _on_repo_selected(self) -> None:
        self._reload_files()

    def _reload_files(self) -> None:
        repo = self.selected_repo()
        if repo is None:
            return
        self._cancel(self._files_job)
        job = FunctionJob(functools.partial(_files, repo, self.context.value()))
        self._files_job = job.job_id
        self.file_table.setRowCount(0)
        self.download_button.setEnabled(False)
        self.explanation.setText(f"Reading the GGUF headers of {repo}…")
        self._submit(job, self._on_files)

    def _on_files(self, job_id: int, files: list[AssessedModel]) -> None:
        if job_id != self._files_job:
            return
        self.files = files
        self.file_table.setRowCount(len(files))
        for row, a in enumerate(files):
            fit = a.fit.label if a.fit else "unreadable"
            cells = (a.model.first.path, a.quantization or "?", fmt.size(a.model.size),
                     str(len(a.model.files)), fit, speed_range(a.fit) if a.fit else "")  # fmt: skip
            for col, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(plain_tip(a.fit.explanation if a.fit else (a.error or "")))
                self.file_table.setItem(row, col, item)
        self.explanation.setText("" if files else "This repo has no GGUF files.")
        self.files_loaded.emit(self.selected_repo() or "")

    def selected_file(self) -> AssessedModel | None:
        rows = self.file_table.selectionModel().selectedRows()
        return self.files[rows[0].row()] if rows else None

    def _on_file_selected(self) -> None:
        a = self.selected_file()
        if a is None:
            return
        if a.fit is None:
            self.explanation.setText(html.escape(a.error or ""))
        else:
            # The explanation names files from the hub: escaped, so a name is never HTML.
            self.explanation.setText(
                f"<b>{html.escape(a.fit.label)}</b>: {html.escape(a.fit.explanation)}"
            )
        self.download_button.setEnabled(a.fit is not None and a.model.complete)

    def _on_download(self) -> None:
        a = self.selected_file()
        if a is None or a.fit is None:
            return
        if a.fit.verdict is Verdict.TOO_BIG:
            answer = QMessageBox.question(
                self, "Too big for this machine",
                f"{a.model.name} needs about {fmt.size(a.fit.needed_bytes)} and this machine "
                "can't hold it, so llama.cpp would refuse or crawl. Download anyway?",
            )  # fmt: skip
            if answer != QMessageBox.StandardButton.Yes:
                return
        self.download_requested.emit(a)

    # plumbing -------------------------------------------------------------
    def _submit(self, job: FunctionJob, on_finished: Any) -> None:
        self._jobs[job.job_id] = job
        job.finished.connect(on_finished)
        job.failed.connect(self._on_failed)
        job.ended.connect(self._on_ended)
        self.pool.submit(job, "net")

    def _on_failed(self, job_id: int, message: str) -> None:
        if job_id == self._search_job:
            self.status.setText(message)
            self.results_loaded.emit(0)
        elif job_id == self._files_job:
            self.explanation.setText(html.escape(message))
            self.files_loaded.emit(self.selected_repo() or "")

    def _on_ended(self, job_id: int) -> None:
        self._jobs.pop(job_id, None)

    def _cancel(self, job_id: int) -> None:
        if job := self._jobs.get(job_id):
            job.cancel()
