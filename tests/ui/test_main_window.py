"""The window as a whole: tabs reach each other, Compare lives in the Chat tab, budgets
speak up in the chat (from the worker thread) and offer a one-click override."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

import pytest
from PySide6.QtCore import Qt

from app.core.llm.contract import Sampling
from app.core.providers import ProviderKind
from app.ui.main_window import MainWindow
from app.workers import WorkerPool
from tests.helpers.llama_server import LlamaServer, llama_server

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from pytestqt.qtbot import QtBot

    from app.core.context import AppContext

TURN_MS = 60_000


@pytest.fixture
def window(qtbot: QtBot, ctx: AppContext) -> Iterator[MainWindow]:
    pool = WorkerPool()
    win = MainWindow(ctx, pool)
    qtbot.addWidget(win)
    win.show()
    yield win
    win.close()
    pool.shutdown()


@pytest.fixture(scope="module")
def server(starter_path: Path) -> Iterator[LlamaServer]:
    with llama_server(starter_path) as srv:
        yield srv


def test_compare_opens_in_the_chat_tab_and_back(window: MainWindow, qtbot: QtBot) -> None:
    chat = window.chat_tab
    qtbot.mouseClick(chat.toolbar.compare_button, Qt.MouseButton.LeftButton)
    assert chat.compare_view is not None
    assert chat.stack.currentWidget() is chat.compare_view
    assert chat.compare_view.targets.count() >= 1  # the local model is offered
    chat.compare_view.back_requested.emit()
    assert chat.stack.currentIndex() == 0


def test_a_ledger_row_opens_its_conversation(
    window: MainWindow, ctx: AppContext, qtbot: QtBot
) -> None:
    conv = ctx.store.create()
    ctx.store.add_user_message(conv.id, "From the bill")
    other = ctx.store.create()
    window.chat_tab.open_conversation(other.id)
    window.tabs.setCurrentIndex(2)
    window.billing_tab.conversation_open_requested.emit(conv.id)
    assert window.tabs.currentWidget() is window.chat_tab
    assert window.chat_tab.conversation_id == conv.id


def test_a_budget_warning_from_a_worker_thread_shows_in_the_chat(
    window: MainWindow, ctx: AppContext, qtbot: QtBot
) -> None:
    worker = threading.Thread(target=ctx.ledger.on_budget_warning, args=("Budget warning: 85 %",))
    worker.start()
    worker.join()
    banner = window.chat_tab.banner
    qtbot.waitUntil(lambda: banner.isVisible() and "85 %" in banner.text())


def test_a_hard_budget_refuses_then_send_anyway_goes_through(
    window: MainWindow, ctx: AppContext, server: LlamaServer, qtbot: QtBot
) -> None:
    ctx.providers.add("pricey", ProviderKind.OPENAI, base_url=server.base_url, model="smollm2")
    ctx.ledger.prices.set("pricey", "smollm2", 1000.0, 1000.0)
    ctx.ledger.budgets.set(0.01, "day", hard=True)
    chat = window.chat_tab
    chat.refresh()
    chat.new_conversation()
    ctx.store.set_sampling(chat.conversation_id or 0, Sampling(max_tokens=16))
    chat.target_picker.choose("pricey:smollm2")
    with qtbot.waitSignal(chat.runner.turn_ended, timeout=TURN_MS):
        chat.turns.send("Hello?")
    assert "Refused by the" in chat.banner.text()
    assert chat.override_button.isVisible()
    assert len(server_requests(ctx)) == 0  # nothing was billed: nothing was sent
    with qtbot.waitSignal(chat.runner.turn_ended, timeout=TURN_MS):
        qtbot.mouseClick(chat.override_button, Qt.MouseButton.LeftButton)
    assert not chat.override_button.isVisible()
    [row] = server_requests(ctx)
    assert row.outcome == "done" and row.completion_tokens > 0
    messages = ctx.store.messages(chat.conversation_id or 0)
    assert [m.role for m in messages] == ["user", "assistant"]


def server_requests(ctx: AppContext) -> list:  # type: ignore[type-arg]
    return [r for r in ctx.ledger.rows() if r.backend == "pricey"]


def test_hf_prices_refresh_once_a_day_for_hf_users(
    window: MainWindow, ctx: AppContext, qtbot: QtBot
) -> None:
    from app.core.billing.hf_prices import REFRESHED_AT
    from tests.helpers.fault_server import FaultServer

    assert window.refresh_prices_daily() is None  # no HF provider: no request at all
    router = FaultServer()
    try:
        router.models = {"data": [{"id": "mistralai/Mistral-Small-3.2-24B-Instruct-2506",
                                   "providers": [{"provider": "novita", "status": "live",
                                                  "pricing": {"input": 0.1, "output": 0.3}}]}]}
        ctx.providers.add("hf", ProviderKind.HF, base_url=router.base_url)
        job = window.refresh_prices_daily()
        assert job is not None
        wait_ended(window, job.job_id, qtbot)
        assert ctx.ledger.prices.lookup("novita", "mistralai/Mistral-Small-3.2-24B-Instruct-2506")
        assert ctx.settings.get(REFRESHED_AT)
        job = window.refresh_prices_daily()
        assert job is not None
        wait_ended(window, job.job_id, qtbot)
        assert len([r for r in router.requests if r.path.endswith("/models")]) == 1
    finally:
        router.close()


def wait_ended(window: MainWindow, job_id: int, qtbot: QtBot) -> None:
    """The pool forgets a job once its `ended` signal (connected at submit) arrives."""
    qtbot.waitUntil(lambda: all(j.job_id != job_id for j in window.pool.active_jobs()),
                    timeout=TURN_MS)  # fmt: skip
