"""The Models tab against the local hub: search, fit, download queue, installed models."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import QMessageBox

from app.core.context import AppContext
from app.core.local.downloads.queue import DownloadState
from app.core.local.downloads.transfer import partial_path
from app.ui.models import ModelsTab
from app.workers import WorkerPool
from tests.local.conftest import GATED, HUGE, REPO, STARTER_FILE

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from pytestqt.qtbot import QtBot

    from tests.helpers.hub_server import HubServer

pytestmark = pytest.mark.qt_log_ignore("propagateSizeHints")
MB = 1 << 20
WAIT_MS = 30_000


@pytest.fixture
def pool() -> Iterator[WorkerPool]:
    workers = WorkerPool({"net": 2, "io": 2, "local": 1})
    yield workers
    workers.shutdown()


@pytest.fixture
def empty_ctx(isolated_dirs: Path) -> Iterator[AppContext]:
    context = AppContext.open(isolated_dirs)
    yield context
    context.close()


def open_tab(qtbot: QtBot, ctx: AppContext, pool: WorkerPool) -> ModelsTab:
    tab = ModelsTab(ctx, pool)
    qtbot.addWidget(tab)
    with qtbot.waitSignals([tab.search.results_loaded, tab.hardware.probed,
                            tab.installed.found_loaded], timeout=WAIT_MS):  # fmt: skip
        tab.show()
    return tab


def search_and_pick(qtbot: QtBot, tab: ModelsTab, query: str, filename: str) -> None:
    tab.search.query.setText(query)
    with qtbot.waitSignal(tab.search.results_loaded, timeout=WAIT_MS):
        tab.search.search()
    with qtbot.waitSignal(tab.search.files_loaded, timeout=WAIT_MS):
        tab.search.repos.selectRow(0)
    row = next(i for i, a in enumerate(tab.search.files) if a.model.first.path == filename)
    tab.search.file_table.selectRow(row)


def test_nothing_touches_the_network_until_the_tab_is_shown(
    qtbot: QtBot, hub_server: HubServer, empty_ctx: AppContext, pool: WorkerPool
) -> None:
    tab = ModelsTab(empty_ctx, pool)
    qtbot.addWidget(tab)
    assert hub_server.requests == []
    with qtbot.waitSignal(tab.search.results_loaded, timeout=WAIT_MS):
        tab.show()
    # Default results: Mistral Small 3.x GGUF repos.
    assert [r.repo_id for r in tab.search.results] == [GATED]
    assert tab.search.repos.item(0, 0).text() == GATED
    qtbot.waitUntil(lambda: tab.hardware.hardware is not None, timeout=WAIT_MS)
    assert "llama.cpp backend" in tab.hardware.text.toPlainText()


def test_find_files_with_fit_then_download_and_install(
    qtbot: QtBot, hub_server: HubServer, empty_ctx: AppContext, pool: WorkerPool
) -> None:
    tab = open_tab(qtbot, empty_ctx, pool)
    search_and_pick(qtbot, tab, "SmolLM2", STARTER_FILE)
    assert "KV cache" in tab.search.explanation.text()
    assert tab.search.download_button.isEnabled()
    with qtbot.waitSignal(tab.downloads.download_finished, timeout=WAIT_MS):
        tab.search.download_button.click()
    assert tab.pages.currentWidget() is tab.downloads
    [entry] = tab.downloads.queue.entries()
    assert entry.state is DownloadState.DONE and entry.done == entry.size
    qtbot.waitUntil(lambda: tab.installed.table.rowCount() == 1, timeout=WAIT_MS)
    assert tab.installed.models[0].name == "SmolLM2-135M-Instruct.Q4_1"


def test_too_big_asks_before_downloading(
    qtbot: QtBot, hub_server: HubServer, empty_ctx: AppContext, pool: WorkerPool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    asked: list[str] = []

    def refuse(*args: object) -> QMessageBox.StandardButton:
        asked.append(str(args[2]))
        return QMessageBox.StandardButton.No

    monkeypatch.setattr(QMessageBox, "question", refuse)
    tab = open_tab(qtbot, empty_ctx, pool)
    search_and_pick(qtbot, tab, "Huge", "Mistral-Huge-Q4_K_M.gguf")
    assert "too big" in tab.search.explanation.text()
    tab.search.download_button.click()
    assert asked and "can't hold it" in asked[0]
    assert tab.downloads.queue.entries() == []
    assert HUGE in tab.search.selected_repo()  # type: ignore[operator]


def test_pause_resume_and_cancel(
    qtbot: QtBot, hub_server: HubServer, empty_ctx: AppContext, pool: WorkerPool
) -> None:
    starter = hub_server.repos[REPO].files[STARTER_FILE]
    starter.rate = 40 * MB
    tab = open_tab(qtbot, empty_ctx, pool)
    search_and_pick(qtbot, tab, "SmolLM2", STARTER_FILE)
    tab.search.download_button.click()
    [entry] = tab.downloads.queue.entries()
    part = partial_path(empty_ctx.catalog.models_dir, REPO, "main", STARTER_FILE)
    qtbot.waitUntil(lambda: part.exists() and part.stat().st_size > 4 * MB, timeout=WAIT_MS)
    with qtbot.waitSignal(tab.downloads.download_ended, timeout=WAIT_MS):
        tab.downloads.pause_button.click()
    paused = tab.downloads.queue.get(entry.id)
    assert paused is not None and paused.state is DownloadState.PAUSED
    kept = part.stat().st_size
    assert kept > 4 * MB
    assert tab.downloads.table.item(0, 6).text() == "paused"

    starter.rate = None
    with qtbot.waitSignal(tab.downloads.download_finished, timeout=WAIT_MS):
        tab.downloads.resume_button.click()
    gets = [r for r in hub_server.file_requests(STARTER_FILE) if r["method"] == "GET"]
    assert gets[-1]["range"] == f"bytes={kept}-"

    # Cancel drops the partial: delete the model and download it again to have one.
    starter.rate = 10 * MB
    tab.installed.delete("SmolLM2-135M-Instruct.Q4_1")
    qtbot.waitUntil(lambda: not (empty_ctx.catalog.models_dir / STARTER_FILE).exists(),
                    timeout=WAIT_MS)  # fmt: skip
    chosen = tab.search.selected_file()
    assert chosen is not None
    assert tab.downloads.add(chosen) == entry.id
    qtbot.waitUntil(lambda: part.exists() and part.stat().st_size > MB, timeout=WAIT_MS)
    with qtbot.waitSignal(tab.downloads.download_ended, timeout=WAIT_MS):
        tab.downloads.cancel(entry.id)
    cancelled = tab.downloads.queue.get(entry.id)
    assert cancelled is not None and cancelled.state is DownloadState.CANCELLED
    assert not part.exists()


def test_downloads_survive_an_app_restart(
    qtbot: QtBot, hub_server: HubServer, isolated_dirs: Path
) -> None:
    starter = hub_server.repos[REPO].files[STARTER_FILE]
    starter.rate = 30 * MB
    first_ctx = AppContext.open(isolated_dirs)
    first_pool = WorkerPool({"net": 2, "io": 2, "local": 1})
    tab = open_tab(qtbot, first_ctx, first_pool)
    search_and_pick(qtbot, tab, "SmolLM2", STARTER_FILE)
    tab.search.download_button.click()
    part = partial_path(first_ctx.catalog.models_dir, REPO, "main", STARTER_FILE)
    qtbot.waitUntil(lambda: part.exists() and part.stat().st_size > 4 * MB, timeout=WAIT_MS)
    tab.shutdown()  # what quitting the app does
    first_pool.shutdown()
    tab.close()
    first_ctx.close()
    kept = part.stat().st_size

    starter.rate = None
    ctx = AppContext.open(isolated_dirs)
    pool = WorkerPool({"net": 2, "io": 2, "local": 1})
    try:
        again = ModelsTab(ctx, pool)
        qtbot.addWidget(again)
        assert again.downloads.table.rowCount() == 1  # the queue came back from the database
        with qtbot.waitSignal(again.downloads.download_finished, timeout=WAIT_MS):
            again.show()  # resumes what was running
        gets = [r for r in hub_server.file_requests(STARTER_FILE) if r["method"] == "GET"]
        assert gets[-1]["range"] == f"bytes={kept}-"
        assert [m.name for m in ctx.catalog.list()] == ["SmolLM2-135M-Instruct.Q4_1"]
    finally:
        pool.shutdown()
        ctx.close()


def test_set_active_loads_off_the_gui_thread_and_delete_asks_first(
    qtbot: QtBot, hub_server: HubServer, ctx: AppContext, pool: WorkerPool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    tab = open_tab(qtbot, ctx, pool)
    tab.pages.setCurrentWidget(tab.installed)
    tab.installed.table.selectRow(0)
    with qtbot.waitSignal(tab.installed.action_finished, timeout=WAIT_MS) as done:
        tab.installed.activate_button.click()
    assert done.args == ["SmolLM2-135M-Instruct.Q4_1 is the active model."]
    assert ctx.local.loaded_path is not None and ctx.local.loads == 1
    assert "(active)" in tab.installed.table.item(0, 0).text()

    answers = iter([QMessageBox.StandardButton.No, QMessageBox.StandardButton.Yes])
    monkeypatch.setattr(QMessageBox, "question", lambda *a: next(answers))
    tab.installed.delete_button.click()  # No: nothing happens
    assert ctx.catalog.list() != []
    with qtbot.waitSignal(tab.installed.action_finished, timeout=WAIT_MS):
        tab.installed.delete_button.click()
    assert ctx.local.loaded_path is None  # unloaded before the file went
    assert ctx.catalog.list() == []
    assert tab.installed.empty.isVisibleTo(tab.installed)


def test_import_by_drag_and_drop(
    qtbot: QtBot, hub_server: HubServer, empty_ctx: AppContext, pool: WorkerPool,
    starter_path: Path, tmp_path: Path,
) -> None:  # fmt: skip
    tab = open_tab(qtbot, empty_ctx, pool)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(starter_path))])
    event = QDropEvent(QPointF(5, 5), Qt.DropAction.CopyAction, mime,
                       Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)  # fmt: skip
    with qtbot.waitSignal(tab.installed.action_finished, timeout=WAIT_MS) as done:
        tab.installed.dropEvent(event)
    assert done.args == [f"Imported {STARTER_FILE}."]
    assert tab.installed.table.rowCount() == 1

    junk = tmp_path / "junk.gguf"
    junk.write_text("nope")
    with qtbot.waitSignal(tab.installed.action_finished, timeout=WAIT_MS) as failed:
        tab.installed.import_paths([junk])
    assert "not a GGUF model file" in failed.args[0]
    assert "not a GGUF" in tab.installed.status.text()


def test_gated_repo_explains_instead_of_offering_a_download(
    qtbot: QtBot, hub_server: HubServer, empty_ctx: AppContext, pool: WorkerPool
) -> None:
    tab = open_tab(qtbot, empty_ctx, pool)
    search_and_pick(qtbot, tab, "Gated", "Mistral-Small-3.2-Q4_K_M.gguf")
    assert "gated or private" in tab.search.explanation.text()
    assert "HF_TOKEN" in tab.search.explanation.text()
    assert not tab.search.download_button.isEnabled()
    assert tab.search.file_table.item(0, 4).text() == "unreadable"
