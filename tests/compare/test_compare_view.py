"""The Compare view, driven like a user: tick targets, type, Run, read the columns."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from PySide6.QtCore import Qt

from app.core.providers import ProviderKind
from app.ui.compare import CompareView
from app.workers import WorkerPool
from tests.helpers.llama_server import LlamaServer, llama_server

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from pytestqt.qtbot import QtBot

    from app.core.context import AppContext


# The offscreen platform says this on every show(); it is not a problem of ours.
pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")


@pytest.fixture(scope="module")
def server(starter_path: Path) -> Iterator[LlamaServer]:
    with llama_server(starter_path) as srv:
        yield srv


@pytest.fixture
def view(ctx: AppContext, server: LlamaServer, qtbot: QtBot) -> Iterator[CompareView]:
    ctx.providers.add("lab", ProviderKind.OPENAI, base_url=server.base_url, model="smollm2")
    pool = WorkerPool()
    widget = CompareView(ctx, pool)
    qtbot.addWidget(widget)
    widget.resize(1100, 700)
    widget.show()
    yield widget
    pool.shutdown()


def tick_all(view: CompareView) -> None:
    for i in range(view.targets.count()):
        view.targets.item(i).setCheckState(Qt.CheckState.Checked)


def test_run_streams_both_columns_and_marks_the_winners(view: CompareView, qtbot: QtBot) -> None:
    assert not view.run_button.isEnabled()
    tick_all(view)
    assert len(view.selected_targets()) == 2
    view.max_tokens.setValue(16)
    view.prompt.setPlainText("Name a mountain.")
    assert view.run_button.isEnabled()
    job_done = []
    qtbot.mouseClick(view.run_button, Qt.MouseButton.LeftButton)
    assert view.job is not None
    view.job.finished.connect(lambda *_: job_done.append(1))
    qtbot.waitUntil(lambda: view.comparison is not None, timeout=60_000)
    comparison = view.comparison
    assert comparison is not None
    assert [c.outcome for c in comparison.columns] == ["done", "done"]
    for column, result in zip(view.columns, comparison.columns, strict=True):
        assert column.body.text == result.text and result.text.strip()
        assert "tok/s" in column.figures.text() or "tokens" in column.figures.text()
        assert column.continue_button.isEnabled()
    badges = " ".join(c.badges.text() for c in view.columns)
    assert "fastest" in badges
    assert view.history.count() == 1  # saved

    with qtbot.waitSignal(view.conversation_open_requested) as opened:
        view.columns[1].continue_button.click()
    messages = view.ctx.store.messages(opened.args[0])
    assert [m.content for m in messages] == ["Name a mountain.", comparison.columns[1].text]


def test_stop_one_column(view: CompareView, qtbot: QtBot) -> None:
    tick_all(view)
    view.max_tokens.setValue(300)
    view.prompt.setPlainText("Write a long story about a river.")
    view.run()
    qtbot.waitUntil(lambda: bool(view.columns[0].text), timeout=60_000)
    view.columns[0].stop_button.click()
    qtbot.waitUntil(lambda: view.comparison is not None, timeout=120_000)
    assert view.comparison is not None
    first, second = view.comparison.columns
    assert first.outcome == "stopped"
    assert second.outcome == "done"
