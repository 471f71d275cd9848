"""The Chat tab end to end: the real tab, the worker pool and llama.cpp with the starter model."""

from __future__ import annotations

import subprocess
import time
from typing import TYPE_CHECKING

import pytest
from PySide6.QtCore import Qt

from app.core.context import AppContext
from app.core.llm.contract import Outcome, Sampling
from app.ui.chat import ChatTab
from app.ui.main_window import MainWindow

if TYPE_CHECKING:

    from pytestqt.qtbot import QtBot

    from app.workers import WorkerPool

# The offscreen platform cannot resize windows to their size hints; nothing to fix here.
pytestmark = pytest.mark.qt_log_ignore(r"This plugin does not support propagateSizeHints")

TURN_MS = 120_000  # generous: other work may share this machine's two cores
SHORT = Sampling(temperature=0.0, max_tokens=24)
LONG = Sampling(temperature=0.7, max_tokens=1500)
LONG_PROMPT = "Write a very long story about a dragon who learns to cook. Use many chapters."


def new_conversation(tab: ChatTab, sampling: Sampling = SHORT) -> int:
    tab.new_conversation()
    assert tab.conversation_id is not None
    tab.ctx.store.set_sampling(tab.conversation_id, sampling)
    return tab.conversation_id


def send(qtbot: QtBot, tab: ChatTab, text: str) -> None:
    """Type `text`, press Send and wait until the turn has ended."""
    qtbot.keyClicks(tab.composer.editor, text)
    with qtbot.waitSignal(tab.runner.turn_ended, timeout=TURN_MS):
        qtbot.mouseClick(tab.composer.send_button, Qt.MouseButton.LeftButton)


def start_long_answer(qtbot: QtBot, tab: ChatTab) -> float:
    """Start a long answer and wait until it flows; return the seconds one token takes."""
    new_conversation(tab, LONG)
    tab.composer.set_text(LONG_PROMPT)
    qtbot.keyClick(tab.composer.editor, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    assert tab.generating
    qtbot.waitUntil(lambda: len(tab.runner.text) > 0, timeout=TURN_MS)
    first_at, first_chars = time.monotonic(), len(tab.runner.text)
    qtbot.waitUntil(lambda: len(tab.runner.text) > first_chars + 40, timeout=TURN_MS)
    tokens = (len(tab.runner.text) - first_chars) / 4  # ~4 characters a token
    return (time.monotonic() - first_at) / tokens


def test_send_streams_the_answer_and_shows_what_it_cost(qtbot: QtBot, tab: ChatTab) -> None:
    cid = new_conversation(tab)
    send(qtbot, tab, "Name three colours.")
    user, answer = tab.ctx.store.messages(cid)
    assert user.content == "Name three colours."
    assert answer.outcome == Outcome.DONE
    assert answer.content.strip()
    widgets = tab.view.widgets
    assert [w.role for w in widgets] == ["user", "assistant"]
    assert widgets[0].text == user.content
    assert widgets[1].text == answer.content
    assert tab.view.live.renders >= 1  # the live message was rendered while streaming
    meta = widgets[1].meta.text()
    assert meta.startswith(f"local · {answer.model} · ")
    assert f"{answer.prompt_tokens} prompt + {answer.completion_tokens} completion tokens" in meta
    assert "first token" in meta
    assert "tok/s" in meta
    assert meta.endswith("done")
    # The list shows the conversation, titled by its first message.
    assert tab.conversations.titles()[0] == "Name three colours."
    assert tab.title.text() == "Name three colours."
    assert not tab.composer.send_button.isEnabled()  # prompt box is empty again


def test_send_is_disabled_for_a_blank_prompt(qtbot: QtBot, tab: ChatTab) -> None:
    button = tab.composer.send_button
    assert not button.isEnabled()
    qtbot.keyClicks(tab.composer.editor, "   ")
    assert not button.isEnabled()
    qtbot.keyClick(tab.composer.editor, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    assert not tab.generating
    qtbot.keyClicks(tab.composer.editor, "hi")
    assert button.isEnabled()


def test_stop_keeps_the_partial_answer(qtbot: QtBot, tab: ChatTab) -> None:
    token_s = start_long_answer(qtbot, tab)
    assert tab.composer.stop_button.isEnabled()
    assert not tab.composer.send_button.isEnabled()
    with qtbot.waitSignal(tab.runner.turn_ended, timeout=TURN_MS):
        stopped_at = time.monotonic()
        qtbot.keyClick(tab.composer.editor, Qt.Key.Key_Escape)
    elapsed = time.monotonic() - stopped_at
    # The backend checks the flag between tokens: 200 ms, unless other work on this
    # machine makes a single token take longer than that.
    budget = max(0.2, 3 * token_s)
    assert elapsed < budget, (
        f"stopping took {elapsed * 1000:.0f} ms ({token_s * 1000:.0f} ms/token)"
    )
    answer = tab.ctx.store.messages(tab.conversation_id or 0)[-1]
    assert answer.outcome == Outcome.STOPPED
    assert len(answer.content) > 40
    assert tab.view.widgets[-1].text == answer.content
    assert tab.view.widgets[-1].meta.text().endswith("stopped")
    assert tab.composer.send_button.isEnabled() is False  # empty prompt
    assert tab.view.widgets[-1].regenerate_button.isVisibleTo(tab)


def test_stop_button_stops_too(qtbot: QtBot, tab: ChatTab) -> None:
    start_long_answer(qtbot, tab)
    with qtbot.waitSignal(tab.runner.turn_ended, timeout=TURN_MS):
        qtbot.mouseClick(tab.composer.stop_button, Qt.MouseButton.LeftButton)
    assert tab.ctx.store.messages(tab.conversation_id or 0)[-1].outcome == Outcome.STOPPED


def test_regenerate_replaces_the_last_answer(qtbot: QtBot, tab: ChatTab) -> None:
    cid = new_conversation(tab)
    send(qtbot, tab, "Say hello.")
    first = tab.ctx.store.messages(cid)[-1]
    button = tab.view.widgets[-1].regenerate_button
    assert button.isVisibleTo(tab)
    assert not tab.view.widgets[0].regenerate_button.isVisibleTo(tab)
    with qtbot.waitSignal(tab.runner.turn_ended, timeout=TURN_MS):
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    messages = tab.ctx.store.messages(cid)
    assert len(messages) == 2
    assert messages[-1].created_at > first.created_at  # a new answer (ids may be reused)
    assert messages[-1].outcome == Outcome.DONE
    assert [w.text for w in tab.view.widgets] == [m.content for m in messages]


def test_edit_and_resend_replaces_later_turns(qtbot: QtBot, tab: ChatTab) -> None:
    cid = new_conversation(tab)
    send(qtbot, tab, "Say one.")
    send(qtbot, tab, "Say two.")
    assert len(tab.ctx.store.messages(cid)) == 4
    first = tab.view.widgets[0]
    qtbot.mouseClick(first.edit_button, Qt.MouseButton.LeftButton)
    assert first.editor is not None
    assert first.editor.toPlainText() == "Say one."
    first.editor.setPlainText("Say three.")
    with qtbot.waitSignal(tab.runner.turn_ended, timeout=TURN_MS):
        qtbot.keyClick(first.editor, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    messages = tab.ctx.store.messages(cid)
    assert [m.role for m in messages] == ["user", "assistant"]
    assert messages[0].content == "Say three."
    assert messages[1].outcome == Outcome.DONE
    assert [w.text for w in tab.view.widgets] == [m.content for m in messages]


def test_a_failed_turn_shows_the_error_and_keeps_the_prompt(qtbot: QtBot, tab: ChatTab) -> None:
    cid = new_conversation(tab)
    tab.ctx.store.set_target(cid, "local:no-such-model")
    with qtbot.waitSignal(tab.runner.turn_failed, timeout=TURN_MS) as failed:
        send(qtbot, tab, "Hello?")
    assert "no local model called 'no-such-model'" in failed.args[0]
    assert tab.banner.isVisibleTo(tab)
    assert "no-such-model" in tab.banner.text()
    assert "Traceback" not in tab.banner.text()
    assert tab.composer.text() == "Hello?"  # nothing the user typed is lost
    assert tab.view.widgets == []
    assert tab.ctx.store.messages(cid) == []


def test_a_restart_finds_the_conversation(
    qtbot: QtBot, tab: ChatTab, ctx: AppContext, pool: WorkerPool
) -> None:
    cid = new_conversation(tab)
    send(qtbot, tab, "Remember the word kiwi.")
    tab.shutdown()
    tab.close()
    ctx.close()
    reopened = AppContext.open(ctx.root)
    try:
        again = ChatTab(reopened, pool)
        qtbot.addWidget(again)
        assert again.conversation_id == cid
        assert again.conversations.titles() == ["Remember the word kiwi."]
        assert [w.role for w in again.view.widgets] == ["user", "assistant"]
        assert again.view.widgets[1].meta.text().endswith("done")
        again.shutdown()
    finally:
        reopened.close()


def test_an_interrupted_answer_offers_regenerate(
    qtbot: QtBot, ctx: AppContext, pool: WorkerPool
) -> None:
    conv = ctx.store.create(sampling=SHORT)
    ctx.store.add_user_message(conv.id, "Count to three.")
    crashed = ctx.store.start_assistant_message(conv.id, "local", "llama.cpp", "SmolLM2")
    ctx.store.checkpoint(crashed.id, "One, two", 3)
    dead = subprocess.run(["true"], check=True)
    assert dead.returncode == 0
    gone_pid = _finished_pid()
    ctx.db.execute("UPDATE messages SET writer_pid = ? WHERE id = ?", (gone_pid, crashed.id))
    tab = ChatTab(ctx, pool)
    qtbot.addWidget(tab)
    answer = tab.view.widgets[-1]
    assert answer.text == "One, two"
    assert answer.meta.text().endswith("interrupted")
    assert "Interrupted" in answer.notice.text()
    assert answer.regenerate_button.isVisibleTo(tab)
    with qtbot.waitSignal(tab.runner.turn_ended, timeout=TURN_MS):
        qtbot.mouseClick(answer.regenerate_button, Qt.MouseButton.LeftButton)
    messages = ctx.store.messages(conv.id)
    assert [m.outcome for m in messages] == [None, Outcome.DONE]
    tab.shutdown()


def _finished_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def test_closing_the_window_mid_answer_saves_it(
    qtbot: QtBot, ctx: AppContext, pool: WorkerPool
) -> None:
    window = MainWindow(ctx, pool)
    qtbot.addWidget(window)
    window.show()
    start_long_answer(qtbot, window.chat_tab)
    cid = window.chat_tab.conversation_id or 0
    assert window.close()
    answer = ctx.store.messages(cid)[-1]
    assert answer.outcome == Outcome.STOPPED
    assert len(answer.content) >= 40
    assert not window.chat_tab.generating
