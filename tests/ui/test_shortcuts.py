"""Every key sequence in the window belongs to one action or shortcut, and pressing it works.

On Linux the platform's standard Quit key is Ctrl+Q, and the quit action also held a literal
Ctrl+Q: Qt found the key held twice, logged "Ambiguous shortcut overload: Ctrl+Q" and ran
neither, so Ctrl+Q did nothing. The earlier tests triggered the QAction directly and missed it.
These press the keys, through Qt's shortcut map, on this platform's key bindings and on those
of the desktops Parley ships for (the offscreen platform binds no Quit key at all).
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence, QShortcut
from PySide6.QtWidgets import QApplication, QWidget

from app.ui.main_window import MainWindow

if TYPE_CHECKING:
    from pytestqt.qtbot import QtBot

    from app.core.context import AppContext
    from app.workers import WorkerPool

pytestmark = pytest.mark.qt_log_ignore(r"This plugin does not support (propagateSizeHints|raise)")

STD = QKeySequence.StandardKey
# What Qt's key binding table gives the standard keys the window uses, per desktop
# (qtbase: src/gui/platform/qplatformtheme.cpp, keyBindings); macOS's Cmd is Ctrl here.
DESKTOPS: dict[str, dict[QKeySequence.StandardKey, list[str]]] = {
    "x11": {STD.New: ["Ctrl+N"], STD.Quit: ["Ctrl+Q"], STD.Preferences: [],
            STD.Copy: ["Ctrl+C", "Ctrl+Ins", "F16"], STD.Find: ["Ctrl+F"]},
    "kde": {STD.New: ["Ctrl+N"], STD.Quit: ["Ctrl+Q"], STD.Preferences: ["Ctrl+Shift+,"],
            STD.Copy: ["Ctrl+C", "Ctrl+Ins", "F16"], STD.Find: ["Ctrl+F"]},
    "macos": {STD.New: ["Ctrl+N"], STD.Quit: ["Ctrl+Q"], STD.Preferences: ["Ctrl+,"],
              STD.Copy: ["Ctrl+C"], STD.Find: ["Ctrl+F"]},
}  # fmt: skip


@pytest.fixture(params=["this platform", *DESKTOPS])
def desktop(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """The key bindings the window is built with: this platform's, or a desktop's."""
    name = str(request.param)
    if name in DESKTOPS:
        table = DESKTOPS[name]

        def bindings(key: QKeySequence.StandardKey) -> list[QKeySequence]:
            return [QKeySequence(text) for text in table.get(key, [])]

        monkeypatch.setattr("app.ui.shortcuts.platform_bindings", bindings)
    return name


def open_window(qtbot: QtBot, ctx: AppContext, pool: WorkerPool) -> MainWindow:
    window = MainWindow(ctx, pool)
    qtbot.addWidget(window)
    window.show()
    window.windowHandle().requestActivate()  # shortcuts need the active window
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window)
    return window


def held_keys(root: QWidget) -> dict[str, list[str]]:
    """Each key sequence held by an action or a shortcut in `root`, with its holders (one
    entry per holding, so an action that holds a key twice is listed twice)."""
    actions = {id(a): a for a in root.findChildren(QAction)}
    for widget in [root, *root.findChildren(QWidget)]:
        actions.update({id(a): a for a in widget.actions()})
    holders: dict[str, list[str]] = defaultdict(list)
    for action in actions.values():
        for key in action.shortcuts():
            holders[key.toString()].append(action.objectName() or action.text())
    for shortcut in root.findChildren(QShortcut):
        parent = shortcut.parent()
        name = shortcut.objectName() or (parent.objectName() if parent is not None else "")
        for key in shortcut.keys():  # noqa: SIM118 (a QShortcut, not a dict)
            holders[key.toString()].append(f"QShortcut {name}")
    return dict(holders)


def test_no_key_sequence_is_held_twice(
    qtbot: QtBot, ctx: AppContext, pool: WorkerPool, desktop: str
) -> None:
    window = open_window(qtbot, ctx, pool)
    # Build what is built on first use, so its shortcuts count too.
    assert window.models_tab is not None and window.billing_tab is not None
    window.chat_tab.show_compare()
    window.chat_tab.show_chat()
    held = held_keys(window)
    assert {key: who for key, who in held.items() if len(who) > 1} == {}
    assert held["Ctrl+Q"] == ["quit"]
    assert held["Ctrl+,"] == ["preferences"]
    window.close()


def test_pressing_ctrl_q_closes_the_window(
    qtbot: QtBot, ctx: AppContext, pool: WorkerPool, desktop: str
) -> None:
    window = open_window(qtbot, ctx, pool)
    editor = window.chat_tab.composer.editor
    assert QApplication.focusWidget() is editor
    qtbot.keyClick(editor, Qt.Key.Key_Q, Qt.KeyboardModifier.ControlModifier)
    assert not window.isVisible()


def test_pressing_ctrl_comma_opens_preferences(
    qtbot: QtBot, ctx: AppContext, pool: WorkerPool, desktop: str
) -> None:
    window = open_window(qtbot, ctx, pool)
    qtbot.keyClick(window.chat_tab.composer.editor, Qt.Key.Key_Comma,
                   Qt.KeyboardModifier.ControlModifier)  # fmt: skip
    assert window.preferences is not None and window.preferences.isVisible()
    window.close()
