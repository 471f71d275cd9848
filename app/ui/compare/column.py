"""One target's column: its answer streaming in, and the figures under it."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from app.ui.render.message_body import MessageBody
from app.ui.safe_text import plain_label

if TYPE_CHECKING:
    from app.core.chat.compare import Column

STATUS_TEXT = {
    "waiting": "Waiting for the local device…",
    "running": "Answering…",
    "done": "Done",
    "stopped": "Stopped",
    "error": "Failed",
}


class CompareColumn(QFrame):
    """Signals:
    stop_requested(position)
    continue_requested(position)
    """

    stop_requested = Signal(int)
    continue_requested = Signal(int)

    def __init__(self, position: int, title: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.position = position
        self.text = ""
        self.setObjectName("compareColumn")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setMinimumWidth(260)
        self.title = QLabel(f"<b>{html.escape(title)}</b>")
        self.title.setWordWrap(True)
        self.status = QLabel(STATUS_TEXT["waiting"])
        self.status.setObjectName("compareStatus")
        self.badges = QLabel()
        self.badges.setObjectName("compareBadges")
        self.body = MessageBody(markdown=True)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        holder = QWidget()
        holder_layout = QVBoxLayout(holder)
        holder_layout.addWidget(self.body)
        holder_layout.addStretch(1)
        scroll.setWidget(holder)
        self.answer_scroll = scroll
        self.figures = plain_label(QLabel())
        self.figures.setObjectName("compareFigures")
        self.figures.setWordWrap(True)
        self.figures.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error = plain_label(QLabel())
        self.error.setObjectName("compareError")
        self.error.setWordWrap(True)
        self.error.hide()
        self.stop_button = QPushButton("Stop")
        self.stop_button.clicked.connect(self._on_stop)
        self.continue_button = QPushButton("Continue with this answer")
        self.continue_button.setEnabled(False)
        self.continue_button.clicked.connect(self._on_continue)
        buttons = QHBoxLayout()
        buttons.addWidget(self.stop_button)
        buttons.addStretch(1)
        buttons.addWidget(self.continue_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        top = QHBoxLayout()
        top.addWidget(self.status, 1)
        top.addWidget(self.badges)
        layout.addLayout(top)
        layout.addWidget(scroll, 1)
        layout.addWidget(self.error)
        layout.addWidget(self.figures)
        layout.addLayout(buttons)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def append(self, text: str) -> None:
        self.text += text

    def render_text(self) -> None:
        self.body.set_text(self.text)
        bar = self.answer_scroll.verticalScrollBar()
        bar.setValue(bar.maximum())

    def set_status(self, status: str) -> None:
        self.status.setText(STATUS_TEXT.get(status, status.capitalize()))
        self.stop_button.setEnabled(status in ("waiting", "running"))

    def show_result(self, column: Column, cheapest: bool, fastest: bool) -> None:
        self.text = column.text
        self.render_text()
        self.set_status(column.outcome)
        if column.error:
            self.error.setText(column.error)
            self.error.show()
        self.badges.setText(" ".join(b for b, on in (("💰 cheapest", cheapest),
                                                     ("⚡ fastest", fastest)) if on))  # fmt: skip
        self.figures.setText(figures_text(column))
        self.continue_button.setEnabled(bool(column.text.strip()))

    def _on_stop(self) -> None:
        self.stop_requested.emit(self.position)

    def _on_continue(self) -> None:
        self.continue_requested.emit(self.position)


def figures_text(c: Column) -> str:
    parts = [c.model or c.target.model]
    if c.ttft_s is not None:
        parts.append(f"first token {c.ttft_s:.2f} s")
    if c.tokens_per_second:
        parts.append(f"{c.tokens_per_second:.1f} tok/s")
    if c.completion_tokens is not None:
        suffix = f" ({c.token_source})" if c.token_source in ("counted", "estimated") else ""
        parts.append(f"{c.prompt_tokens or 0} + {c.completion_tokens} tokens{suffix}")
    if c.energy_wh is not None:
        parts.append(f"{c.energy_wh * 1000:.2f} mWh")
    if c.cost is None:
        parts.append("no price")
    else:
        energy = " (energy)" if (c.cost_source or "").startswith("energy") else ""
        parts.append(f"{c.cost:.6f} {c.currency or ''}".strip() + energy)
    return " · ".join(parts)
