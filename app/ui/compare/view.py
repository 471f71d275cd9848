"""Compare: one prompt, two to six targets, answers side by side."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from app.core.chat.compare import (
    CompareRunner,
    Comparison,
    continue_as_conversation,
)
from app.core.llm.contract import Sampling
from app.core.llm.targets import AUTO, Target
from app.ui.compare.column import CompareColumn
from app.ui.safe_text import plain_label, plain_tip
from app.workers import CompareJob

if TYPE_CHECKING:
    from app.core.context import AppContext
    from app.workers import WorkerPool

MIN_TARGETS, MAX_TARGETS = 2, 6
RENDER_INTERVAL_MS = 50
TARGET_ROLE = Qt.ItemDataRole.UserRole
COMPARISON_ROLE = Qt.ItemDataRole.UserRole + 1


class CompareView(QWidget):
    """Signals:
    conversation_open_requested(conversation_id): "Continue with this answer" made one
    back_requested: the user wants the chat again
    """

    conversation_open_requested = Signal(int)
    back_requested = Signal()

    def __init__(self, ctx: AppContext, pool: WorkerPool, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.pool = pool
        self.store = ctx.comparisons
        self.job: CompareJob | None = None
        self.columns: list[CompareColumn] = []
        self.comparison: Comparison | None = None
        self._dirty: set[int] = set()
        self._render_timer = QTimer(self)
        self._render_timer.setSingleShot(True)
        self._render_timer.setInterval(RENDER_INTERVAL_MS)
        self._render_timer.timeout.connect(self._render)
        self._build()
        self.refresh()

    # layout ------------------------------------------------------------
    def _build(self) -> None:
        self.targets = QListWidget()
        self.targets.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.targets.itemChanged.connect(self._update_run_state)
        self.history = QListWidget()
        self.history.itemActivated.connect(self._open_saved)
        self.history.itemClicked.connect(self._open_saved)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.addWidget(QLabel(f"<b>Targets</b> (pick {MIN_TARGETS} to {MAX_TARGETS})"))
        left_layout.addWidget(self.targets, 2)
        left_layout.addWidget(QLabel("<b>Saved comparisons</b>"))
        left_layout.addWidget(self.history, 1)
        self.rerun_button = QPushButton("Re-run selected")
        self.rerun_button.clicked.connect(self._rerun)
        left_layout.addWidget(self.rerun_button)

        self.system = QLineEdit()
        self.system.setPlaceholderText("Optional system prompt shared by all targets")
        self.temperature = QDoubleSpinBox()
        self.temperature.setRange(0.0, 2.0)
        self.temperature.setSingleStep(0.05)
        self.temperature.setValue(0.15)
        self.max_tokens = QSpinBox()
        self.max_tokens.setRange(1, 32768)
        self.max_tokens.setValue(512)
        settings = QFormLayout()
        settings.addRow("System prompt", self.system)
        row = QHBoxLayout()
        row.addWidget(QLabel("Temperature"))
        row.addWidget(self.temperature)
        row.addWidget(QLabel("Max tokens"))
        row.addWidget(self.max_tokens)
        row.addStretch(1)
        settings.addRow(row)
        self.prompt = QPlainTextEdit()
        self.prompt.setPlaceholderText("One prompt for every target… (Ctrl+Enter runs)")
        self.prompt.setMaximumHeight(110)
        self.prompt.textChanged.connect(self._update_run_state)
        self.run_button = QPushButton("Run")
        self.run_button.setObjectName("sendButton")
        self.run_button.clicked.connect(self.run)
        self.stop_button = QPushButton("Stop all")
        self.stop_button.clicked.connect(self.stop_all)
        self.stop_button.setEnabled(False)
        self.hint = plain_label(QLabel())
        self.hint.setObjectName("meta")
        buttons = QHBoxLayout()
        buttons.addWidget(self.hint, 1)
        buttons.addWidget(self.stop_button)
        buttons.addWidget(self.run_button)
        self.board = QSplitter(Qt.Orientation.Horizontal)
        self.board.setChildrenCollapsible(False)
        self.empty = QLabel("Pick targets, write a prompt and press Run: each answer streams "
                            "into its own column with its speed and cost.")  # fmt: skip
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setWordWrap(True)
        self.empty.setObjectName("emptyState")
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.addLayout(settings)
        right_layout.addWidget(self.prompt)
        right_layout.addLayout(buttons)
        right_layout.addWidget(self.empty, 1)
        right_layout.addWidget(self.board, 4)
        self.board.hide()

        back = QPushButton("← Back to chat")
        back.clicked.connect(self.back_requested)
        heading = QHBoxLayout()
        heading.setContentsMargins(8, 6, 8, 0)
        title = QLabel("Compare")
        title.setObjectName("conversationTitle")
        heading.addWidget(title, 1)
        heading.addWidget(back)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(left)
        split.addWidget(right)
        split.setStretchFactor(1, 1)
        split.setSizes([260, 900])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(heading)
        layout.addWidget(split)
        QShortcut(QKeySequence("Ctrl+Return"), self.prompt, self.run)

    # data ----------------------------------------------------------------
    def refresh(self) -> None:
        """Reload the targets (keeping ticks) and the saved comparisons."""
        ticked = set(self.selected_targets())
        self.targets.blockSignals(True)
        self.targets.clear()
        for option in self.ctx.target_options():
            if option.target.backend == AUTO:
                continue  # Compare puts named targets side by side; `auto` picks one of them
            item = QListWidgetItem(option.label)
            item.setData(TARGET_ROLE, str(option.target))
            flags = Qt.ItemFlag.ItemIsUserCheckable
            if option.available:
                flags |= Qt.ItemFlag.ItemIsEnabled
                item.setToolTip(plain_tip(" · ".join(filter(None, (option.group, option.detail)))))
            else:
                item.setToolTip(plain_tip(option.reason))
            item.setFlags(flags)
            item.setCheckState(Qt.CheckState.Checked if str(option.target) in ticked
                               else Qt.CheckState.Unchecked)  # fmt: skip
            self.targets.addItem(item)
        self.targets.blockSignals(False)
        self.history.clear()
        for comparison in self.store.list(limit=100):
            when = dt.datetime.fromtimestamp(comparison.created_at).strftime("%m-%d %H:%M")
            item = QListWidgetItem(f"{when}  {comparison.prompt[:60]}")
            item.setData(COMPARISON_ROLE, comparison.id)
            self.history.addItem(item)
        self._update_run_state()

    def selected_targets(self) -> list[str]:
        return [
            self.targets.item(i).data(TARGET_ROLE)
            for i in range(self.targets.count())
            if self.targets.item(i).checkState() == Qt.CheckState.Checked
        ]

    def set_selected_targets(self, targets: list[str]) -> None:
        for i in range(self.targets.count()):
            item = self.targets.item(i)
            item.setCheckState(Qt.CheckState.Checked if item.data(TARGET_ROLE) in targets
                               else Qt.CheckState.Unchecked)  # fmt: skip

    def _update_run_state(self) -> None:
        count = len(self.selected_targets())
        running = self.job is not None
        if count < MIN_TARGETS:
            self.hint.setText(f"Pick at least {MIN_TARGETS} targets.")
        elif count > MAX_TARGETS:
            self.hint.setText(f"Pick at most {MAX_TARGETS} targets.")
        else:
            self.hint.setText(f"{count} targets; cloud ones run at once, local ones in turn.")
        ok = MIN_TARGETS <= count <= MAX_TARGETS and bool(self.prompt.toPlainText().strip())
        self.run_button.setEnabled(ok and not running)

    # running -------------------------------------------------------------
    def run(self) -> None:
        if not self.run_button.isEnabled():
            return
        targets = [Target.parse(t) for t in self.selected_targets()]
        sampling = Sampling(temperature=self.temperature.value(),
                            max_tokens=self.max_tokens.value())  # fmt: skip
        self._start(self.prompt.toPlainText(), targets, self.system.text(), sampling)

    def _start(self, prompt: str, targets: list[Target], system: str, sampling: Sampling) -> None:
        runner = CompareRunner(self.ctx.exchanges, self.store)
        job = CompareJob(runner, prompt, targets, system_prompt=system, sampling=sampling)
        job.column_token_received.connect(self._on_tokens)
        job.column_status_changed.connect(self._on_status)
        job.finished.connect(self._on_finished)
        job.failed.connect(self._on_failed)
        job.cancelled.connect(self._on_cancelled)
        self.job = job
        self.comparison = None
        self._make_columns([str(t) for t in targets])
        self.stop_button.setEnabled(True)
        self._update_run_state()
        self.pool.submit(job, lane="net")

    def stop_all(self) -> None:
        if self.job is not None:
            self.job.cancel()

    def shutdown(self) -> None:
        """Cancel a running comparison (window closing)."""
        self.stop_all()

    def _make_columns(self, titles: list[str]) -> None:
        for column in self.columns:
            column.setParent(None)
            column.deleteLater()
        self.columns = []
        for i, title in enumerate(titles):
            column = CompareColumn(i, title)
            column.stop_requested.connect(self._stop_column)
            column.continue_requested.connect(self._continue)
            self.board.addWidget(column)
            self.columns.append(column)
        self.empty.hide()
        self.board.show()

    def _is_current(self, job_id: int) -> bool:
        return self.job is not None and self.job.job_id == job_id

    def _on_tokens(self, job_id: int, position: int, text: str) -> None:
        if not self._is_current(job_id):
            return
        self.columns[position].append(text)
        self._dirty.add(position)
        if not self._render_timer.isActive():
            self._render_timer.start()

    def _render(self) -> None:
        for position in self._dirty:
            self.columns[position].render_text()
        self._dirty.clear()

    def _on_status(self, job_id: int, position: int, status: str) -> None:
        if self._is_current(job_id):
            self.columns[position].set_status(status)

    def _on_finished(self, job_id: int, comparison: Comparison) -> None:
        if not self._is_current(job_id):
            return
        self.job = None
        self._render_timer.stop()
        self._dirty.clear()
        self.show_comparison(comparison)
        self.refresh()

    def _on_failed(self, job_id: int, message: str) -> None:
        if self._is_current(job_id):
            self.job = None
            self.stop_button.setEnabled(False)
            self.hint.setText(message)
            self._update_run_state()
            self.hint.setText(message)

    def _on_cancelled(self, job_id: int) -> None:
        if self._is_current(job_id):
            self.job = None
            self.stop_button.setEnabled(False)
            self._update_run_state()

    def show_comparison(self, comparison: Comparison) -> None:
        self.comparison = comparison
        if len(self.columns) != len(comparison.columns):
            self._make_columns([str(c.target) for c in comparison.columns])
        cheapest, fastest = comparison.cheapest(), comparison.fastest()
        for column, result in zip(self.columns, comparison.columns, strict=True):
            column.show_result(result, result.position == cheapest, result.position == fastest)
        self.stop_button.setEnabled(False)
        self._update_run_state()

    def _stop_column(self, position: int) -> None:
        if self.job is not None:
            self.job.cancel_column(position)

    def _continue(self, position: int) -> None:
        if self.comparison is not None:
            cid = continue_as_conversation(self.comparison, position, self.ctx.store)
            self.conversation_open_requested.emit(cid)

    # saved -----------------------------------------------------------------
    def _selected_saved(self) -> Comparison | None:
        item = self.history.currentItem()
        return self.store.get(int(item.data(COMPARISON_ROLE))) if item is not None else None

    def _open_saved(self, _item: QListWidgetItem) -> None:
        if self.job is None and (comparison := self._selected_saved()) is not None:
            self.prompt.setPlainText(comparison.prompt)
            self.system.setText(comparison.system_prompt)
            self.set_selected_targets([str(c.target) for c in comparison.columns])
            self._make_columns([str(c.target) for c in comparison.columns])
            self.show_comparison(comparison)

    def _rerun(self) -> None:
        if self.job is None and (comparison := self._selected_saved()) is not None:
            self._start(comparison.prompt, [c.target for c in comparison.columns],
                        comparison.system_prompt, comparison.sampling)  # fmt: skip
