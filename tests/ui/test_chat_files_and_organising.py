"""Issue 17 through the real Chat tab, worker pool and llama.cpp (the starter model):
attachments in the sent prompt, images refused before sending, the context meter against the
backend's own count, load progress, fork, folders, pins, export and import."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import QApplication

from app.core.llm.contract import Sampling
from app.core.local.catalog import STARTER_NAME
from app.core.local.model_controls import ModelControls
from tests.helpers.files import write_png

if TYPE_CHECKING:
    from pathlib import Path

    from pytestqt.qtbot import QtBot

    from app.ui.chat import ChatTab


pytestmark = pytest.mark.qt_log_ignore(r"This plugin does not support propagateSizeHints")
TURN_MS = 120_000
SHORT = Sampling(temperature=0.0, max_tokens=16)


def new_conversation(tab: ChatTab) -> int:
    tab.new_conversation()
    assert tab.conversation_id is not None
    tab.ctx.store.set_sampling(tab.conversation_id, SHORT)
    return tab.conversation_id


def drop_files(qtbot: QtBot, tab: ChatTab, *paths: Path) -> None:
    """Drop files on the message box as a file manager would; wait for their chips."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    before = len(tab.composer.chips)
    tab.composer.editor.insertFromMimeData(mime)
    qtbot.waitUntil(lambda: len(tab.composer.chips) == before + len(paths), timeout=20_000)


def send(qtbot: QtBot, tab: ChatTab, text: str) -> None:
    tab.composer.set_text(text)
    with qtbot.waitSignal(tab.runner.turn_ended, timeout=TURN_MS):
        qtbot.mouseClick(tab.composer.send_button, Qt.MouseButton.LeftButton)


def test_a_dropped_file_becomes_a_chip_and_goes_into_the_sent_prompt(
    qtbot: QtBot, tab: ChatTab, tmp_path: Path
) -> None:
    cid = new_conversation(tab)
    notes = tmp_path / "keeper.py"
    notes.write_text("LAMP = 'lit'\n", encoding="utf-8")
    drop_files(qtbot, tab, notes)
    chip = tab.composer.chips[0]
    assert chip.label.text().startswith("keeper.py · ≈") and "tokens" in chip.label.text()
    assert tab.composer.editor.toPlainText() == ""  # the path was not pasted as text
    send(qtbot, tab, "What is LAMP?")
    user, answer = tab.ctx.store.messages(cid)
    assert [a.name for a in user.attachments] == ["keeper.py"]
    sent = tab.ctx.store.history(cid)[0].content
    assert sent == "What is LAMP?\n\nkeeper.py:\n```python\nLAMP = 'lit'\n```"
    assert tab.composer.chips == []  # the box is empty again
    widget = tab.view.widgets[0]
    assert widget.attachments.isVisible() and "keeper.py" in widget.attachments.text()
    assert answer.prompt_tokens and answer.prompt_tokens > 10


def test_a_target_that_cannot_read_images_says_so_before_sending(
    qtbot: QtBot, tab: ChatTab, tmp_path: Path
) -> None:
    new_conversation(tab)
    drop_files(qtbot, tab, write_png(tmp_path / "chart.png"))
    tab.composer.set_text("What does the chart show?")
    warning = tab.composer.attachment_warning
    qtbot.waitUntil(warning.isVisible, timeout=20_000)
    assert "can't read images" in warning.text() and "mmproj" in warning.text()
    assert not tab.composer.send_button.isEnabled()
    tab.composer.chips[0].remove_button.click()
    qtbot.waitUntil(lambda: not warning.isVisible(), timeout=20_000)
    assert tab.composer.send_button.isEnabled()


def test_the_context_meter_counts_what_the_backend_then_reads(
    qtbot: QtBot, tab: ChatTab
) -> None:
    cid = new_conversation(tab)
    send(qtbot, tab, "Name a colour.")  # loads the model: the meter can count exactly now
    draft = "And a fruit of that colour, with [INST] in it?"
    meter = tab.context_meter
    with qtbot.waitSignal(meter.updated, timeout=20_000) as counted:
        tab.composer.set_text(draft)  # a count of the history alone may still be under way
    shown = counted.args[0] if counted.args else None
    assert shown is meter.last_usage and shown.exact
    assert "≈" not in tab.composer.meter_label.text()
    assert shown is not None
    assert f"{shown.tokens:,} / 4,096 tokens" in tab.composer.meter_label.text()
    with qtbot.waitSignal(tab.runner.turn_ended, timeout=TURN_MS):
        tab.composer.send_button.click()
    answer = tab.ctx.store.messages(cid)[-1]
    assert answer.prompt_tokens == shown.tokens  # the backend read exactly that many


def test_the_meter_turns_amber_when_older_turns_will_be_left_out(
    qtbot: QtBot, tab: ChatTab
) -> None:
    cid = new_conversation(tab)
    tab.ctx.store.set_sampling(cid, Sampling(max_tokens=16))
    # A local model's context is one of its controls (issue 18), not the conversation's.
    tab.ctx.model_controls.set(STARTER_NAME, ModelControls(context_length=256))
    tab.options.choose_target(tab.session.default_target_text())
    tab.composer.set_text("word " * 400)
    qtbot.waitUntil(lambda: tab.composer.meter_label.property("level") == "full",
                    timeout=20_000)  # fmt: skip
    assert "left out" in tab.composer.meter_label.toolTip()


def test_loading_the_model_shows_progress_instead_of_writing(
    qtbot: QtBot, tab: ChatTab
) -> None:
    new_conversation(tab)
    fractions: list[float] = []
    tab.turns.load_progress.progressed.connect(lambda _m, f: fractions.append(f))
    tab.composer.set_text("Hi")
    tab.composer.send_button.click()
    live = tab.view.live_widget
    assert live is not None and "loading model" in live.meta.text()
    assert live.load_bar.isVisibleTo(live)
    qtbot.waitUntil(lambda: not tab.generating, timeout=TURN_MS)
    assert fractions and fractions[-1] == pytest.approx(1.0)
    assert fractions == sorted(fractions)
    assert not tab.view.widgets[-1].load_bar.isVisible()
    assert "loading" not in tab.view.widgets[-1].meta.text()


def test_fork_from_a_message_leaves_the_original_untouched(qtbot: QtBot, tab: ChatTab) -> None:
    cid = new_conversation(tab)
    send(qtbot, tab, "First question.")
    send(qtbot, tab, "Second question.")
    original = tab.ctx.store.messages(cid)
    first_answer = tab.view.widgets[1]
    assert first_answer.fork_button.isEnabled()
    first_answer.fork_button.click()
    fork_id = tab.conversation_id
    assert fork_id is not None and fork_id != cid
    assert [m.content for m in tab.ctx.store.messages(fork_id)] == [
        m.content for m in original[:2]
    ]
    assert len(tab.view.widgets) == 2
    assert tab.ctx.store.messages(cid) == original
    assert tab.conversations.ids()[0] == fork_id


def test_message_context_menu_offers_every_action(qtbot: QtBot, tab: ChatTab) -> None:
    new_conversation(tab)
    send(qtbot, tab, "Hello.")
    user, answer = tab.view.widgets
    texts = [a.text() for a in answer.context_menu().actions() if a.text()]
    assert texts == ["Copy message", "Fork from here", "Regenerate", "Export conversation…",
                     "Delete conversation…"]  # fmt: skip
    menu = user.context_menu()
    assert [a.text() for a in menu.actions() if a.text()][:3] == [
        "Copy message", "Edit and resend…", "Fork from here"]  # fmt: skip
    next(a for a in menu.actions() if a.text() == "Copy message").trigger()
    assert QApplication.clipboard().text() == "Hello."


def test_drag_a_conversation_onto_a_folder_and_pin_one(qtbot: QtBot, tab: ChatTab) -> None:
    a = tab.ctx.store.create("Tides").id
    b = tab.ctx.store.create("Lamps").id
    tab.refresh()
    folder = tab.conversations.folders.create_folder("Lighthouse")
    assert folder is not None
    lists = tab.conversations
    row = lists.ids().index(a)
    mime = lists.list.mimeData([lists.list.item(row)])
    target = lists.folders.item(lists.folders.folder_ids().index(folder))
    pos = lists.folders.visualItemRect(target).center()
    drop = QDropEvent(QPointF(pos), Qt.DropAction.MoveAction, mime, Qt.MouseButton.LeftButton,
                      Qt.KeyboardModifier.NoModifier)  # fmt: skip
    lists.folders.dropEvent(drop)
    assert tab.ctx.store.get(a).folder_id == folder
    lists.folders.show_folder(folder)
    assert lists.ids() == [a]
    assert "Lighthouse  (1)" in [lists.folders.item(i).text() for i in range(lists.folders.count())]
    lists.folders.show_folder(0)
    item = lists.list.item(lists.ids().index(b))
    menu = lists.context_menu(item)
    next(x for x in menu.actions() if x.text() == "Pin to top").trigger()
    assert lists.ids()[0] == b and tab.ctx.store.get(b).pinned
    menu = lists.context_menu(lists.list.item(0))
    assert [x.text() for x in menu.actions() if x.text()] == [
        "Open", "Rename", "Unpin", "Move to folder", "Copy as Markdown", "Export…", "Delete…"]
    next(x for x in menu.actions() if x.text() == "Copy as Markdown").trigger()
    assert QApplication.clipboard().text().startswith("# Lamps")


def test_export_and_import_from_the_window(
    qtbot: QtBot, tab: ChatTab, tmp_path: Path
) -> None:
    cid = new_conversation(tab)
    send(qtbot, tab, "Say hi.")
    for fmt in ("md", "json", "html"):
        path = tmp_path / f"out.{fmt}"
        tab.files.export_to(cid, path, fmt)
        qtbot.waitUntil(path.exists, timeout=20_000)
    assert "Say hi." in (tmp_path / "out.md").read_text(encoding="utf-8")
    assert "<html>" in (tmp_path / "out.html").read_text(encoding="utf-8")
    openai = tmp_path / "other-tool.json"
    openai.write_text(json.dumps([{"role": "user", "content": "From another app"},
                                  {"role": "assistant", "content": "Welcome."}]))  # fmt: skip
    tab.files.import_from(openai)
    qtbot.waitUntil(lambda: tab.conversation_id != cid, timeout=20_000)
    assert [w.text for w in tab.view.widgets] == ["From another app", "Welcome."]
    tab.files.import_from(tmp_path / "out.json")
    qtbot.waitUntil(lambda: tab.conversations.titles()[0] == "Say hi.", timeout=20_000)
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    tab.files.import_from(bad)
    qtbot.waitUntil(tab.banner.isVisible, timeout=20_000)
    assert "OpenAI-style" in tab.banner.text()



def test_a_drop_with_bad_files_attaches_the_rest_and_names_each_bad_one(
    qtbot: QtBot, tab: ChatTab, tmp_path: Path
) -> None:
    from tests.helpers.files import write_shared_stream_pdf

    new_conversation(tab)
    good = tmp_path / "keeper.py"
    good.write_text("LAMP = 'lit'\n", encoding="utf-8")
    fake = tmp_path / "photo.png"
    fake.write_bytes(b"not a picture")
    bomb = write_shared_stream_pdf(tmp_path / "bomb.pdf", 1, b" " * 90_000_000)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in (fake, bomb, good)])
    tab.composer.editor.insertFromMimeData(mime)
    banner = tab.files.banner
    qtbot.waitUntil(lambda: not banner.label.isHidden(), timeout=20_000)
    assert [c.attachment.name for c in tab.composer.chips] == ["keeper.py"]
    lines = banner.label.text().splitlines()
    assert lines[0].startswith("photo.png ") and lines[1].startswith("bomb.pdf ")
