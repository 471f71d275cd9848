"""The window's gateway switch: on, the address, the requests it served, off again."""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx
import pytest
from PySide6.QtCore import Qt

from app.ui.gateway.controller import ENABLED, PORT
from app.ui.gateway.dialog import GatewayDialog
from app.ui.main_window import MainWindow
from app.workers import WorkerPool
from tests.helpers.llama_server import free_port

if TYPE_CHECKING:
    from collections.abc import Iterator

    from pytestqt.qtbot import QtBot

    from app.core.context import AppContext


@pytest.fixture
def window(qtbot: QtBot, ctx: AppContext) -> Iterator[MainWindow]:
    ctx.settings.set(PORT, free_port())
    pool = WorkerPool()
    win = MainWindow(ctx, pool)
    qtbot.addWidget(win)
    win.show()
    yield win
    win.close()
    pool.shutdown()


@pytest.mark.qt_log_ignore("propagateSizeHints")
def test_the_status_bar_switch_serves_and_lists_requests(
    window: MainWindow, ctx: AppContext, qtbot: QtBot
) -> None:
    indicator = window.gateway_indicator
    assert indicator.details.text() == "off"
    qtbot.mouseClick(indicator.switch, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.gateway.running, timeout=15_000)
    address = window.gateway.address
    qtbot.waitUntil(lambda: indicator.details.text() == f"{address} · 0 requests")
    assert ctx.settings.get(ENABLED) is True  # it comes back on at the next start

    token = ctx.access_tokens.default()[1]
    resp = httpx.post(f"{address}/chat/completions", timeout=60,
                      headers={"Authorization": f"Bearer {token}", "X-Parley-Client": "script"},
                      json={"model": "local/SmolLM2-135M-Instruct.Q4_1", "max_tokens": 4,
                            "messages": [{"role": "user", "content": "Hi"}]})  # fmt: skip
    assert resp.status_code == 200
    qtbot.waitUntil(lambda: indicator.details.text().endswith("· 1 request"))

    dialog = GatewayDialog(window.gateway, window)
    qtbot.addWidget(dialog)
    assert dialog.address.text() == address
    assert dialog.token.text() == token
    assert dialog.table.rowCount() == 1
    assert dialog.table.item(0, 1).text() == "script"
    assert dialog.table.item(0, 2).text() == "local/SmolLM2-135M-Instruct.Q4_1"
    assert not dialog.port.isEnabled()  # the address can't change while serving

    qtbot.mouseClick(dialog.switch, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not window.gateway.running, timeout=15_000)
    qtbot.waitUntil(lambda: indicator.details.text() == "off")
    assert dialog.port.isEnabled()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{address}/models", timeout=2)


@pytest.mark.qt_log_ignore("propagateSizeHints")
def test_a_gateway_thread_that_dies_is_noticed_and_started_again(
    window: MainWindow, ctx: AppContext, qtbot: QtBot
) -> None:
    """Issue 22, input 11: inside the window the gateway thread died silently."""
    indicator = window.gateway_indicator
    qtbot.mouseClick(indicator.switch, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.gateway.running, timeout=15_000)
    address = window.gateway.address
    server = window.gateway._server
    assert server is not None and server._server is not None
    with qtbot.waitSignal(window.gateway.restarted, timeout=15_000):
        server._server.should_exit = True  # the thread ends, as a crash would end it
    qtbot.waitUntil(lambda: window.gateway.running, timeout=15_000)
    assert "started it again" in window.statusBar().currentMessage()
    assert indicator.switch.isChecked()
    token = ctx.access_tokens.default()[1]
    resp = httpx.get(f"{address}/models", timeout=30, headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 200
