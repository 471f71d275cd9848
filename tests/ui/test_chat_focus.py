"""The message box has the keyboard focus whenever the user is about to type."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from PySide6.QtCore import Qt

from app.core.llm.contract import Sampling
from app.ui.main_window import MainWindow
from app.workers import WorkerPool

if TYPE_CHECKING:
    from collections.abc import Iterator

    from pytestqt.qtbot import QtBot

    from app.core.context import AppContext

pytestmark = pytest.mark.qt_log_ignore(r"This plugin does not support propagateSizeHints")


@pytest.fixture
def window(qtbot: QtBot, ctx: AppContext) -> Iterator[MainWindow]:
    for title in ("First", "Second"):
        conv = ctx.store.create(title=title)
        ctx.store.set_sampling(conv.id, Sampling(temperature=0.0, max_tokens=4))
    pool = WorkerPool()
    win = MainWindow(ctx, pool)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    yield win
    win.chat_tab.shutdown()
    pool.shutdown()


def focused(win: MainWindow) -> object:
    return win.focusWidget()


def test_the_window_opens_with_the_focus_in_the_message_box(window: MainWindow) -> None:
    assert focused(window) is window.chat_tab.composer.editor


def test_choosing_a_conversation_puts_the_focus_in_the_message_box(
    qtbot: QtBot, window: MainWindow
) -> None:
    tab = window.chat_tab
    tab.conversations.search.setFocus()
    assert focused(window) is tab.conversations.search
    row = tab.conversations.list
    other = row.item(1)
    qtbot.mouseClick(row.viewport(), Qt.MouseButton.LeftButton,
                     pos=row.visualItemRect(other).center())  # fmt: skip
    assert tab.conversation_id == tab.conversations.ids()[1]
    assert focused(window) is tab.composer.editor
    # Arrow keys only browse: the list keeps the focus.
    row.setFocus()
    qtbot.keyClick(row, Qt.Key.Key_Up)
    assert tab.conversation_id == tab.conversations.ids()[0]
    assert focused(window) is row


def test_the_focus_returns_to_the_message_box_when_an_answer_ends(
    qtbot: QtBot, window: MainWindow
) -> None:
    tab = window.chat_tab
    qtbot.keyClicks(tab.composer.editor, "Hello")
    with qtbot.waitSignal(tab.runner.turn_ended, timeout=120_000):
        qtbot.mouseClick(tab.composer.send_button, Qt.MouseButton.LeftButton)
        tab.composer.stop_button.setFocus()  # where the user went while it was answering
    assert focused(window) is tab.composer.editor
