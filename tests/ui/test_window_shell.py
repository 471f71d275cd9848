"""Issue 17: the window as a desktop app: menus from QActions with standard shortcuts,
Preferences, the status bar, and size, position, splitter and tab restored."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from PySide6.QtCore import QLocale, Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QApplication, QDialog

from app.core.foundation.settings import DEFAULT_TARGET, OFFLINE_MODE
from app.ui.gateway import GatewayIndicator
from app.ui.gateway.controller import PORT
from app.ui.locale_format import money, number
from app.ui.main_window import MainWindow
from app.ui.preferences import GATEWAY_SECTION, TITLE
from app.workers import WorkerPool
from tests.helpers.llama_server import free_port

if TYPE_CHECKING:

    from pytestqt.qtbot import QtBot

    from app.core.context import AppContext

pytestmark = pytest.mark.qt_log_ignore(r"This plugin does not support (propagateSizeHints|raise)")


def open_window(qtbot: QtBot, ctx: AppContext, pool: WorkerPool) -> MainWindow:
    window = MainWindow(ctx, pool)
    qtbot.addWidget(window)
    window.show()
    window.windowHandle().requestActivate()  # shortcuts need the active window
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window)
    return window


def test_menus_are_actions_with_the_platforms_shortcuts(
    qtbot: QtBot, ctx: AppContext, pool: WorkerPool
) -> None:
    window = open_window(qtbot, ctx, pool)
    menus = [a.text() for a in window.menuBar().actions()]
    assert menus == ["&File", "&Edit", "&View", "&Help"]
    shortcuts = {name: [s.toString() for s in a.shortcuts()]
                 for name, a in window.actions_by_name.items()}  # fmt: skip
    assert "Ctrl+N" in shortcuts["new_conversation"]
    assert "Ctrl+F" in shortcuts["find"]
    assert "Ctrl+Q" in shortcuts["quit"]
    assert "Ctrl+C" in shortcuts["copy"]
    assert "Ctrl+," in shortcuts["preferences"]
    qtbot.keyClick(window.chat_tab.composer.editor, Qt.Key.Key_F,
                   Qt.KeyboardModifier.ControlModifier)  # fmt: skip
    assert QApplication.focusWidget() is window.chat_tab.conversations.search
    before = len(ctx.store.list())
    window.chat_tab.composer.set_text("x")  # the empty conversation is reused, so type
    qtbot.keyClick(window.chat_tab.composer.editor, Qt.Key.Key_N,
                   Qt.KeyboardModifier.ControlModifier)  # fmt: skip
    assert len(ctx.store.list()) == before + 1
    window.close()


def test_preferences_opens_with_ctrl_comma_and_holds_the_app_wide_settings(
    qtbot: QtBot, ctx: AppContext, pool: WorkerPool
) -> None:
    ctx.settings.set(PORT, free_port())
    window = open_window(qtbot, ctx, pool)
    qtbot.keyClick(window.chat_tab.composer.editor, Qt.Key.Key_Comma,
                   Qt.KeyboardModifier.ControlModifier)  # fmt: skip
    prefs = window.preferences
    assert isinstance(prefs, QDialog) and prefs.isVisible()
    assert prefs.windowTitle() == TITLE == "Preferences"
    # The gateway's switch (issue 16) is the status bar's: switched here, on there too.
    switch = prefs.sections[GATEWAY_SECTION]
    assert isinstance(switch, GatewayIndicator) and switch.controller is window.gateway
    qtbot.mouseClick(switch.switch, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.gateway.running, timeout=15_000)
    qtbot.waitUntil(lambda: window.gateway_indicator.switch.isChecked())
    assert window.gateway_indicator.details.text().startswith(window.gateway.address)
    prefs.offline.click()
    assert ctx.settings.get(OFFLINE_MODE) is True
    assert prefs.data_folder.text() == str(ctx.root)
    assert prefs.costs.per_kwh.text() == "0.25"  # electricity price lives here too
    starter = prefs.default_target.itemData(1)
    prefs.default_target.setCurrentIndex(1)
    prefs.default_target.activated.emit(1)
    assert ctx.settings.get(DEFAULT_TARGET) == starter
    assert str(ctx.default_target()) == starter
    window.close()


def test_size_position_splitter_and_tab_come_back_after_ctrl_q(
    qtbot: QtBot, ctx: AppContext, pool: WorkerPool
) -> None:
    window = open_window(qtbot, ctx, pool)
    window.resize(760, 530)  # within the offscreen screen (800x600): nothing is clamped
    window.chat_tab.splitter.setSizes([300, 460])
    qtbot.waitUntil(lambda: window.width() == 760)
    window.tabs.setCurrentIndex(2)
    sizes = window.chat_tab.splitter.sizes()
    window.actions_by_name["quit"].trigger()  # Ctrl+Q
    assert not window.isVisible()
    fresh = WorkerPool()  # closing the window shut the first pool down
    again = open_window(qtbot, ctx, fresh)
    assert (again.width(), again.height()) == (760, 530)
    assert again.tabs.currentIndex() == 2
    again.tabs.setCurrentIndex(0)
    qtbot.waitUntil(lambda: again.chat_tab.splitter.sizes() == sizes)
    again.close()
    fresh.shutdown()


def test_the_status_bar_names_the_loaded_model_and_its_memory(
    qtbot: QtBot, ctx: AppContext, pool: WorkerPool
) -> None:
    window = open_window(qtbot, ctx, pool)
    assert window.model_status.text() == "No local model loaded"
    tab = window.chat_tab
    tab.composer.set_text("Hi")
    with qtbot.waitSignal(tab.runner.turn_ended, timeout=120_000):
        tab.composer.send_button.click()
    qtbot.waitUntil(lambda: "loaded" in window.model_status.text() and "MiB" in
                    window.model_status.text(), timeout=5_000)  # fmt: skip
    assert window.model_status.text().startswith("SmolLM2")
    window.close()


def test_money_and_numbers_follow_the_locale_and_yen_have_no_decimals() -> None:
    assert money(1234.5, "USD") == "$1,234.50"
    assert money(1234.5, "JPY") == "¥1,235"
    assert money(-0.0012, "USD") == "-$0.0012"
    QLocale.setDefault(QLocale(QLocale.Language.German, QLocale.Country.Germany))
    try:
        assert money(1234.5, "EUR") == "1.234,50\u00a0€"
        assert number(1234567) == "1.234.567"
    finally:
        QLocale.setDefault(QLocale(QLocale.Language.English, QLocale.Country.UnitedStates))
    assert QKeySequence("Ctrl+,").toString() == "Ctrl+,"
