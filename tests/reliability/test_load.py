"""Load: 10,000 messages in one conversation, 5,000 conversations and a big ledger (1,000,000
rows in the report, 100,000 under make test): the window opens in under 2 s, and scrolling,
searching and switching conversations never stall the GUI thread for more than 100 ms."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import pytest
from PySide6.QtWidgets import QApplication

from app.core.context import AppContext
from app.ui.main_window import MainWindow
from app.workers import WorkerPool
from tests.helpers.stall_meter import StallMeter
from tests.helpers.starter import install_into
from tests.reliability.conftest import sized, write_figures
from tests.reliability.load import seed
from tests.reliability.support import open_window_once

if TYPE_CHECKING:
    from pathlib import Path

    from pytestqt.qtbot import QtBot

    from tests.reliability.conftest import Tally

pytestmark = [pytest.mark.reliability("load"), pytest.mark.qt_log_ignore("propagateSizeHints")]
OPEN_S = sized(3.0, 2.0)  # the goal is 2 s; make test runs beside other suites (see below)
# The goal is 100 ms, and the report judges by it. Under make test this 2-core machine
# runs other suites alongside, which stretches every stall; the bound here still fails
# what this issue fixed (1.7-2.7 s to show earlier messages, 0.35 s to open a conversation).
STALL_LIMIT_MS = sized(300, 100)
MESSAGES, CONVERSATIONS = 10_000, 5_000
FIGURES: dict[str, float] = {}  # for the report


@pytest.fixture(scope="module")
def heavy(tmp_path_factory: pytest.TempPathFactory, starter_path: Path) -> tuple[Path, int]:
    root = tmp_path_factory.mktemp("heavy") / "data"
    install_into(root / "models", starter_path)
    AppContext.open(root).close()
    big = seed(root, messages=MESSAGES, conversations=CONVERSATIONS,
               ledger_rows=sized(100_000, 1_000_000))  # fmt: skip
    return root, big


def test_the_window_opens_in_under_two_seconds(heavy: tuple[Path, int], tally: Tally) -> None:
    root, _big = heavy
    open_window_once(root)  # warm the file cache, as every start after the first is
    runs = [open_window_once(root) for _ in range(3)]
    for run in runs:
        shown = [float(line.split()[1]) for line in run.stdout.splitlines()
                 if line.startswith("PARLEY_SHOWN ")]  # fmt: skip
        started = run.started_at
        seconds = shown[0] - started if shown else float("inf")
        FIGURES.setdefault("open_s", seconds)
        FIGURES["open_s"] = min(FIGURES["open_s"], seconds)
        tally.case(hung=seconds > OPEN_S, note=f"{seconds:.2f} s to the window")
    write_figures("load", {"open_s": FIGURES["open_s"]})
    tally.check()


def test_opening_reads_the_newest_messages_not_all(
    qtbot: QtBot, heavy: tuple[Path, int], monkeypatch: pytest.MonkeyPatch, tally: Tally
) -> None:
    """Regression: opening (and refreshing after an answer) read all 10,000 messages."""
    from app.core.chat import conversations

    read = 0
    original = conversations._message

    def counting(row: object, attachments: tuple[()] = ()) -> conversations.Message:
        nonlocal read
        read += 1
        return original(row, attachments)

    root, big = heavy
    ctx = AppContext.open(root)
    pool = WorkerPool()
    monkeypatch.setattr(conversations, "_message", counting)
    try:
        window = MainWindow(ctx, pool)
        qtbot.addWidget(window)
        window.show()
        qtbot.waitUntil(lambda: not window.chat_tab.view.filling, timeout=10_000)
        assert window.chat_tab.conversation_id == big
        window.chat_tab.view.show_earlier()
        qtbot.waitUntil(lambda: not window.chat_tab.view.filling, timeout=30_000)
        tally.case(hung=read > 500, note=f"{read} messages read to open and page once")
        window.close()
    finally:
        pool.shutdown()
        ctx.close()
    tally.check()


def _settle(qtbot: QtBot, ms: int = 50) -> None:
    qtbot.wait(ms)


def _measure(meter: StallMeter, label: str) -> None:
    meter.stop()
    FIGURES[f"{label}_stall_ms"] = meter.longest_ms
    meter.start()


def test_scrolling_searching_and_switching_never_stall(
    qtbot: QtBot, heavy: tuple[Path, int], tally: Tally
) -> None:
    root, big = heavy
    ctx = AppContext.open(root)
    pool = WorkerPool()
    meter = StallMeter()
    try:
        started = time.perf_counter()
        window = MainWindow(ctx, pool)
        qtbot.addWidget(window)
        window.resize(1200, 800)
        window.show()
        QApplication.processEvents()
        FIGURES["window_build_ms"] = (time.perf_counter() - started) * 1000
        chat = window.chat_tab
        assert chat.conversation_id == big  # the newest: the long one opens at start
        qtbot.waitUntil(lambda: not chat.view.filling, timeout=10_000)
        _settle(qtbot, 300)
        bar = chat.view.verticalScrollBar()
        meter.start()

        for _ in range(sized(2, 4)):  # through the open window, top to bottom and back
            for step in [*range(0, bar.maximum() + 1, 120), *range(bar.maximum(), -1, -400)]:
                bar.setValue(step)
                _settle(qtbot, 5)
        _measure(meter, "scroll")

        for _ in range(sized(2, 5)):  # older pages, read from the store and rendered
            chat.view.show_earlier()
            qtbot.waitUntil(lambda: not chat.view.filling, timeout=30_000)
            _settle(qtbot, 50)
        _measure(meter, "earlier")

        for text in ("lighthouse", "whale keeper", "Part 9999", "nothing-like-this", ""):
            chat.conversations.search.setText(text)
            qtbot.waitUntil(lambda: chat.library._search_job is None, timeout=10_000)
            _settle(qtbot, 250)
        _measure(meter, "search")

        ids = chat.conversations.ids()
        for cid in [ids[1], ids[len(ids) // 2], big, ids[-1], big, *ids[2:sized(8, 30)]]:
            chat.conversations.select(cid)
            _settle(qtbot, 20)
            qtbot.waitUntil(lambda: not chat.view.filling, timeout=10_000)
        _measure(meter, "switch")
        meter.stop()
        window.close()
    finally:
        meter.timer.stop()
        pool.shutdown()
        ctx.close()
    write_figures("load", FIGURES)
    for activity in ("scroll", "earlier", "search", "switch"):
        ms = FIGURES[f"{activity}_stall_ms"]
        tally.case(hung=ms > STALL_LIMIT_MS, note=f"{activity}: longest stall {ms:.0f} ms")
    tally.check()
