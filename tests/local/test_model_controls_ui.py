"""Model controls in the window: the Models tab and a local conversation's settings, with
the fit verdict and speed range following every change."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from app.core.local.catalog import STARTER_NAME
from app.core.local.hardware import Hardware
from app.core.local.model_controls import KVCacheType, ModelControls
from app.ui.chat.tab import ChatTab
from app.ui.models.installed_panel import InstalledPanel
from app.workers import WorkerPool

if TYPE_CHECKING:
    from collections.abc import Iterator

    from pytestqt.qtbot import QtBot

    from app.core.context import AppContext

pytestmark = pytest.mark.qt_log_ignore("propagateSizeHints")
MB = 10**6


def machine(ram: int) -> Hardware:
    return Hardware("Linux", "test CPU", 4, 8, ram, ram, 60.0)


@pytest.fixture
def pool() -> Iterator[WorkerPool]:
    workers = WorkerPool({"net": 1, "io": 1, "local": 1})
    yield workers
    workers.shutdown()


def open_panel(qtbot: QtBot, ctx: AppContext, pool: WorkerPool) -> InstalledPanel:
    panel = InstalledPanel(ctx, pool)
    qtbot.addWidget(panel)
    panel.resize(900, 800)
    panel.show()
    with qtbot.waitSignal(panel.controls_shown, timeout=30_000):
        pass
    return panel


def test_models_tab_shows_each_models_controls_and_the_fit_follows_them(
    qtbot: QtBot, ctx: AppContext, pool: WorkerPool
) -> None:
    panel = open_panel(qtbot, ctx, pool)
    form = panel.controls_form
    assert panel.controls_box.title() == f"Load settings for {STARTER_NAME}"
    assert form.controls() == ModelControls()
    assert form.verdict.text() == "detecting hardware…"
    panel.set_hardware(machine(16 * 10**9))
    assert form.verdict.text() == "CPU only" and "tokens/s" in form.speed.text()
    assert "at 4,096 tokens" in form.explanation.text()
    assert not panel.save_controls_button.isEnabled()

    form.context.setValue(8192)  # live: the estimate follows without saving
    assert "at 8,192 tokens" in form.explanation.text()
    before = form.fit.needed_bytes  # type: ignore[union-attr]
    form.kv_cache.setCurrentText("q8_0")
    assert "q8_0 KV cache" in form.explanation.text()
    assert form.fit.needed_bytes < before  # type: ignore[union-attr]
    assert panel.save_controls_button.isEnabled()

    form.flash.setCurrentText("off")  # llama.cpp refuses a quantized cache without it
    assert form.verdict.text() == "not valid"
    assert "needs flash attention" in form.explanation.text()
    panel.save_controls()
    assert "needs flash attention" in panel.status.text()
    assert ctx.model_controls.get(STARTER_NAME) == ModelControls()  # nothing saved

    form.flash.setCurrentText("auto")
    with qtbot.waitSignal(panel.controls_saved) as saved:
        panel.save_controls_button.click()
    assert saved.args == [STARTER_NAME]
    assert ctx.model_controls.get(STARTER_NAME) == ModelControls(8192, kv_cache=KVCacheType.Q8_0)
    assert "apply when it next loads" in panel.status.text()

    panel.default_controls_button.click()
    assert form.controls() == ModelControls()


def test_the_verdict_turns_too_big_as_the_context_grows_on_a_small_machine(
    qtbot: QtBot, ctx: AppContext, pool: WorkerPool
) -> None:
    panel = open_panel(qtbot, ctx, pool)
    form = panel.controls_form
    panel.set_hardware(machine(400 * MB))  # 360 MB usable
    form.context.setValue(2048)
    assert form.verdict.text() == "CPU only"
    form.context.setValue(8192)
    assert form.verdict.text() == "<b>too big</b>" and form.speed.text() == "—"
    assert "shorter context or a q8_0 KV cache" in form.explanation.text()


def test_a_local_conversations_settings_edit_its_models_controls(
    qtbot: QtBot, ctx: AppContext, pool: WorkerPool
) -> None:
    tab = ChatTab(ctx, pool)
    qtbot.addWidget(tab)
    tab.show()
    tab.options.open_settings()
    dialog = tab.options.settings_dialog
    assert dialog is not None and dialog.model_form is not None
    assert dialog.model_box is not None and STARTER_NAME in dialog.model_box.title()
    # The context of a local model is one of its controls, not the conversation's.
    assert not dialog.context_length.isVisibleTo(dialog)
    form = dialog.model_form
    assert form.controls() == ModelControls()  # editable at once, before the fit is known
    qtbot.waitUntil(lambda: form.shape is not None and form.hardware is not None, timeout=30_000)
    assert form.verdict.text() in ("CPU only", "full GPU offload")
    form.context.setValue(2048)
    form.threads.setValue(1)
    dialog.accept()
    assert not dialog.isVisible()
    assert ctx.model_controls.get(STARTER_NAME) == ModelControls(2048, threads=1)
