"""The Providers dialog: add with a masked key, test on the net lane, remove."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from PySide6.QtWidgets import QLineEdit, QMessageBox

from app.core.foundation.settings import OFFLINE_MODE
from app.core.providers.secrets import SERVICE
from app.ui.providers import ProvidersDialog, open_providers_dialog
from app.workers import WorkerPool
from tests.providers.support import KEY

if TYPE_CHECKING:
    from collections.abc import Iterator

    from keyring.backend import KeyringBackend
    from pytestqt.qtbot import QtBot

    from app.core.context import AppContext
    from tests.helpers.fault_server import FaultServer


@pytest.fixture
def pool() -> Iterator[WorkerPool]:
    workers = WorkerPool({"net": 1, "io": 1})
    yield workers
    workers.shutdown()


@pytest.fixture
def dialog(qtbot: QtBot, ctx: AppContext, pool: WorkerPool) -> ProvidersDialog:
    d = ProvidersDialog(ctx, pool, None)
    qtbot.addWidget(d)
    return d


# The offscreen platform can't raise windows or propagate size hints; that is all it says.
@pytest.mark.qt_log_ignore("This plugin does not support")
def test_open_providers_dialog_shows_it(qtbot: QtBot, ctx: AppContext, pool: WorkerPool) -> None:
    d = open_providers_dialog(ctx, pool, None)
    qtbot.addWidget(d)
    assert d.isVisible()
    assert d.windowTitle() == "Providers"


def test_add_test_and_remove_a_provider(
    qtbot: QtBot, dialog: ProvidersDialog, ctx: AppContext, fault: FaultServer,
    isolated_keyring: KeyringBackend, monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    form = dialog.form
    assert form.key.echoMode() is QLineEdit.EchoMode.Password
    form.name.setText("fs")
    form.kind.setCurrentIndex(form.kind.findData("openai"))
    form.base_url.setText(fault.base_url)
    form.model.setEditText("smollm2")
    form.key.setText(KEY)
    with qtbot.waitSignal(dialog.providers_changed):
        dialog.save()
    qtbot.waitUntil(lambda: ctx.providers.get("fs").has_key)
    assert isolated_keyring.get_password(SERVICE, "fs") == KEY
    assert form.key.text() == ""
    assert dialog.selected_name() == "fs"
    assert "fs:smollm2" in {str(o.target) for o in ctx.target_options()}

    dialog.test_connection()
    qtbot.waitUntil(lambda: dialog.status.text().startswith("OK:"))
    assert fault.chat_requests()[0].headers["Authorization"] == f"Bearer {KEY}"

    monkeypatch.setattr(QMessageBox, "question", lambda *a: QMessageBox.StandardButton.Yes)
    dialog.remove()
    qtbot.waitUntil(lambda: ctx.providers.store.find("fs") is None)
    qtbot.waitUntil(lambda: "Removed fs" in dialog.status.text())
    assert isolated_keyring.get_password(SERVICE, "fs") is None


def test_failed_test_shows_the_exact_reason(
    qtbot: QtBot, dialog: ProvidersDialog, ctx: AppContext, fault: FaultServer
) -> None:
    from tests.helpers.fault_server import Reply
    from tests.providers.support import add_provider

    add_provider(ctx, "fs", "openai", fault.base_url)
    dialog.refresh(select="fs")
    fault.script(Reply.error(401, "Invalid API key"))
    dialog.test_connection()
    qtbot.waitUntil(lambda: "refused the API key" in dialog.status.text())
    assert "Invalid API key" in dialog.status.text()
    assert dialog.test_button.isEnabled()


def test_offline_switch(qtbot: QtBot, dialog: ProvidersDialog, ctx: AppContext) -> None:
    with qtbot.waitSignal(dialog.providers_changed):
        dialog.offline.setChecked(True)
    assert ctx.settings.get(OFFLINE_MODE) is True


def test_bad_input_is_shown_not_raised(dialog: ProvidersDialog, ctx: AppContext) -> None:
    dialog.form.name.setText("Bad Name!")
    dialog.save()
    assert "can't be a provider name" in dialog.status.text()
    assert ctx.providers.configs() == []
