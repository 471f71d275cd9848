"""Router prices, read from a real HTTP server on 127.0.0.1 (never the internet)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, ClassVar

import pytest

from app.cli import main
from app.core.billing.errors import PriceError
from app.core.billing.hf_prices import parse_router_models
from app.core.context import AppContext
from app.core.foundation.http import close_shared_client
from tests.billing.conftest import result

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from pytestqt.qtbot import QtBot

PAYLOAD = {
    "object": "list",
    "data": [
        {
            "id": "mistralai/Mistral-Small-3.2-24B-Instruct-2506",
            "providers": [
                {"provider": "deepinfra", "status": "live",
                 "pricing": {"input": 0.05, "output": 0.1}},
                {"provider": "novita", "status": "live",
                 "pricing": {"input": 0.2, "output": 0.4}},
                {"provider": "broken", "pricing": {"input": -1, "output": 0.1}},
                {"provider": "nan", "pricing": {"input": "NaN", "output": 0.1}},
                {"provider": "free-text", "pricing": "ask us"},
            ],
        },
        {"id": "no/providers"},
    ],
}  # fmt: skip


class Router(BaseHTTPRequestHandler):
    status: ClassVar[int] = 200
    body: ClassVar[bytes] = json.dumps(PAYLOAD).encode()

    def do_GET(self) -> None:
        self.send_response(self.status if self.path == "/v1/models" else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep the test output clean


@pytest.fixture
def router() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Router)
    thread = threading.Thread(target=server.serve_forever, name="router")
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    close_shared_client()
    server.shutdown()
    server.server_close()
    thread.join()


def test_parse_keeps_good_prices_and_skips_broken_ones() -> None:
    prices, skipped = parse_router_models(PAYLOAD)
    assert [(p.provider, p.input, p.output) for p in prices] == [
        ("deepinfra", 0.05, 0.1), ("novita", 0.2, 0.4)]
    assert skipped == 4
    with pytest.raises(PriceError, match="unexpected shape"):
        parse_router_models({"error": "nope"})


def test_refresh_from_the_router_keeps_your_prices(
    isolated_dirs: Path, router: str, capsys: pytest.CaptureFixture[str]
) -> None:
    ctx = AppContext.open(isolated_dirs)
    ctx.ledger.prices.set("novita", "mistralai/Mistral-Small-3.2-24B-Instruct-2506", 9, 9)
    ctx.ledger.record(result(backend="hf", provider="hf",
                             model="mistralai/Mistral-Small-3.2-24B-Instruct-2506:deepinfra"),
                      conversation_id=None, message_id=None)  # fmt: skip
    ctx.close()
    assert main(["prices", "refresh-hf", "--endpoint", router]) == 0
    err = capsys.readouterr().err
    assert "Updated 1 prices" in err and "kept 1 of yours" in err
    assert main(["prices", "list", "--json"]) == 0
    listed = {(p["provider"], p["model"]): p for p in json.loads(capsys.readouterr().out)}
    deepinfra = listed[("deepinfra", "mistralai/Mistral-Small-3.2-24B-Instruct-2506")]
    assert (deepinfra["input"], deepinfra["output"]) == (0.05, 0.1)
    assert deepinfra["source"] == f"{router}/models" and not deepinfra["user_override"]
    assert listed[("novita", "mistralai/Mistral-Small-3.2-24B-Instruct-2506")]["input"] == 9


def test_a_failing_router_changes_nothing(
    isolated_dirs: Path, router: str, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setattr(Router, "status", 503)
    assert main(["prices", "refresh-hf", "--endpoint", router]) == 1
    err = capsys.readouterr().err
    assert "Couldn't read prices from" in err and "not changed" in err


@pytest.mark.qt_log_ignore("propagateSizeHints")
def test_the_tab_button_refreshes_on_the_net_lane(
    qtbot: QtBot, ctx: AppContext, router: str
) -> None:
    from app.ui.billing import BillingTab
    from app.workers import WorkerPool

    pool = WorkerPool({"db": 1, "net": 1})
    try:
        tab = BillingTab(ctx, pool)
        qtbot.addWidget(tab)
        with qtbot.waitSignal(tab.data_loaded, timeout=10_000):
            tab.show()
        with qtbot.waitSignal(tab.prices_refreshed, timeout=10_000) as done:
            tab.refresh_hf_prices(router)
        assert done.args[0].startswith("Updated 2 Hugging Face prices")
        assert tab.prices.refresh_hf.isEnabled()

        def models() -> list[str]:
            table = tab.prices.table
            return [table.item(r, 1).text() for r in range(table.rowCount())]

        # The list is read on the db lane (issue 14: no Billing query on the GUI thread),
        # so it shows a moment after the refresh.
        qtbot.waitUntil(
            lambda: models().count("mistralai/Mistral-Small-3.2-24B-Instruct-2506") == 2)
    finally:
        pool.shutdown()
