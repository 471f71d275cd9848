"""A download interrupted by closing the window resumes at the next start, without the
Models tab ever being opened (regression, issue 15, input 4)."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

import pytest

from app.core.context import AppContext
from app.core.local import hub
from app.core.local.downloads.queue import DownloadQueue, DownloadState
from app.core.local.downloads.transfer import download_file, partial_path
from app.core.local.starter import STARTER
from app.ui.main_window import MainWindow
from app.workers import WorkerPool
from tests.local.conftest import REPO, STARTER_FILE

if TYPE_CHECKING:
    from pathlib import Path

    from pytestqt.qtbot import QtBot

    from tests.helpers.hub_server import HubServer
    from tests.reliability.conftest import Tally

pytestmark = [pytest.mark.reliability("crash"), pytest.mark.qt_log_ignore("propagateSizeHints")]
MB = 1 << 20


def test_a_download_left_running_resumes_when_the_window_opens(
    qtbot: QtBot, hub_server: HubServer, isolated_dirs: Path, tally: Tally
) -> None:
    ctx = AppContext.open(isolated_dirs)
    queue = DownloadQueue(ctx.db)
    entry = queue.add(REPO, STARTER_FILE, 0)
    queue.set_state(entry.id, DownloadState.RUNNING)  # the window closed mid-download
    # The first session got 5 MB or so before the window closed.
    starter = hub_server.repos[REPO].files[STARTER_FILE]
    starter.rate = 40 * MB
    cancel = threading.Event()
    download_file(REPO, hub.file_info(REPO, STARTER_FILE), ctx.catalog.models_dir, cancel,
                  lambda done, _total: cancel.set() if done > 5 * MB else None)  # fmt: skip
    starter.rate = None
    kept = partial_path(ctx.catalog.models_dir, REPO, "main", STARTER_FILE).stat().st_size
    hub_server.requests.clear()
    pool = WorkerPool()
    window = MainWindow(ctx, pool)
    qtbot.addWidget(window)
    try:
        window.show()
        qtbot.waitUntil(lambda: bool(ctx.catalog.list()), timeout=60_000)
        qtbot.waitUntil(lambda: queue.get(entry.id).state is DownloadState.DONE)  # type: ignore[union-attr]
        gets = [r for r in hub_server.file_requests(STARTER_FILE) if r["method"] == "GET"]
        resumed = bool(gets) and gets[0]["range"] == f"bytes={kept}-"
        installed = [m.path.name for m in ctx.catalog.list()] == [STARTER_FILE]
        tally.case(lost=not (resumed and installed), note=str([g["range"] for g in gets]))
        assert window._models.content is None  # the Models tab was never built
        assert ctx.catalog.list()[0].path.stat().st_size == STARTER.size
    finally:
        window.close()
        pool.shutdown()
        ctx.close()
    tally.check()
