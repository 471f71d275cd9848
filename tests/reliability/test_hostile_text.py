"""Hostile text: model output, titles, model names and provider errors render safely and quickly.

Nothing shown may open a local file or reach the network (a FIFO "tripwire"
tells whether anything opened it; a local HTTP server counts requests), and
a megabyte on one line lays out in well under a second.
"""

from __future__ import annotations

import base64
import os
import struct
import threading
import time
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

import pytest
from PySide6.QtCore import QPoint, Qt, QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QApplication, QLabel, QToolTip

from app.core.chat.conversations import title_from
from app.core.context import AppContext
from app.ui.chat import ChatTab
from app.ui.render.text_block import TextBlock
from app.workers import WorkerPool
from tests.helpers.tripwire import Tripwire
from tests.reliability.support import add_exchange, open_window_once

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from pytestqt.qtbot import QtBot

    from tests.reliability.conftest import Tally

pytestmark = [
    pytest.mark.reliability("text"),
    pytest.mark.qt_log_ignore("propagateSizeHints", "does not support raise"),
]
MB = 1 << 20


class _Counter(BaseHTTPRequestHandler):
    hits: list[str]

    def do_GET(self) -> None:
        self.hits.append(self.path)
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def web() -> Iterator[tuple[str, list[str]]]:
    """A local web server that records every request (nothing may ask it for an image)."""
    hits: list[str] = []
    handler = type("Handler", (_Counter,), {"hits": hits})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", hits
    server.shutdown()
    server.server_close()
    thread.join(5)


@pytest.fixture
def tripwire(tmp_path: Path) -> Iterator[Tripwire]:
    with Tripwire(tmp_path / "fifo") as wire:
        yield wire


@pytest.fixture
def pool() -> Iterator[WorkerPool]:
    workers = WorkerPool()
    yield workers
    workers.shutdown()


def _png(width: int, height: int) -> bytes:
    """A PNG whose header claims `width` x `height` (real pixels when small, junk otherwise)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    pixels = zlib.compress((b"\0" + b"\xff\0\0" * width) * height) if width <= 64 else b"x"
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels)
            + chunk(b"IEND", b""))  # fmt: skip


def _data_url(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode()


def _show(qtbot: QtBot, ctx: AppContext, pool: WorkerPool) -> ChatTab:
    tab = ChatTab(ctx, pool)
    qtbot.addWidget(tab)
    tab.resize(1000, 700)
    tab.show()
    qtbot.waitExposed(tab)
    qtbot.waitUntil(lambda: not tab.view.filling)
    QApplication.processEvents()
    return tab


def test_model_output_opens_no_file_and_no_address(
    qtbot: QtBot, ctx: AppContext, pool: WorkerPool, tripwire: Tripwire,
    web: tuple[str, list[str]], tally: Tally,
) -> None:  # fmt: skip
    """Regression (issue 15, input 1): `![x](file:///dev/zero)` read /dev/zero until the
    process aborted, and a FIFO hung the GUI thread, at every start."""
    base, hits = web
    fifo = tripwire.path
    answers = [
        f"![x]({tripwire.url})",
        f"![x]({fifo})",
        f"![x](<{fifo}>) and ![y](file://localhost{fifo})",
        f"![ref][r]\n\n[r]: {tripwire.url}",
        f'<img src="{tripwire.url}"> inline HTML is text',
        f"![x]({base}/pixel.png) and ![y](//127.0.0.1:{base.rsplit(':', 1)[1]}/y.png)",
        f"[a link]({tripwire.url}) and [web]({base}/page) are not followed unless clicked",
        f"| a | b |\n|---|---|\n| ![t]({tripwire.url}) | ![u]({base}/t.png) |",
    ]
    for answer in answers:
        add_exchange(ctx, "Show me a picture", answer)
    tab = _show(qtbot, ctx, pool)
    for conversation_id in tab.conversations.ids():
        tab.open_conversation(conversation_id)
        qtbot.waitUntil(lambda: not tab.view.filling)
        QApplication.processEvents()
        texts = [w.text for w in tab.view.widgets]
        tally.case(leaked=tripwire.is_tripped() or bool(hits), note=texts[-1][:80])
    tally.check()
    assert not tripwire.is_tripped(), "rendering an answer opened a local file"
    assert hits == [], "rendering an answer reached the network"


def test_links_open_only_on_click_and_only_for_web_pages(
    qtbot: QtBot, tripwire: Tripwire, monkeypatch: pytest.MonkeyPatch, tally: Tally
) -> None:
    opened: list[str] = []
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: opened.append(url.toString()))
    block = TextBlock("prose")
    qtbot.addWidget(block)
    block.set_text("[a](https://example.org/) [b](file:///etc/passwd) [c](javascript:alert(1))")
    assert opened == []  # shown, not followed
    for url in ("https://example.org/", "file:///etc/passwd", "javascript:alert(1)",
                tripwire.url, "smb://server/share", "http:no-host"):  # fmt: skip
        block.anchorClicked.emit(QUrl(url))
        tally.case(leaked=bool(opened) and not opened[-1].startswith("https://example.org"))
    assert opened == ["https://example.org/"]
    tally.check()


def test_data_images_show_and_image_bombs_do_not(qtbot: QtBot, tally: Tally) -> None:
    block = TextBlock("prose")
    qtbot.addWidget(block)
    small, bomb = _data_url(_png(2, 2)), _data_url(_png(60_000, 60_000))
    block.set_text(f"![small]({small})")
    block.resize(400, 200)
    block.heightForWidth(400)
    assert not block.document().resource(2, QUrl(small)).isNull()  # 2 = an image resource
    started = time.perf_counter()
    block.set_text(f"![bomb]({bomb})")
    block.heightForWidth(400)
    image = block.document().resource(2, QUrl(bomb))
    tally.case(hung=time.perf_counter() - started > 1.0, leaked=not image.isNull())
    tally.check()


def test_hostile_titles_names_and_errors_are_shown_as_text(
    qtbot: QtBot, ctx: AppContext, pool: WorkerPool, tripwire: Tripwire,
    web: tuple[str, list[str]], tally: Tally,
) -> None:  # fmt: skip
    base, hits = web
    html = f'<img src="{tripwire.url}"><img src="{base}/x.png"><b>bold</b>'
    conversation_id = add_exchange(ctx, "hi", "hello", model=html, title=html)
    conv = ctx.store.create()
    ctx.store.add_user_message(conv.id, "Fails")
    msg = ctx.store.start_assistant_message(conv.id, "openai", "example", html)
    ctx.store.checkpoint(msg.id, "", 0)
    ctx.db.execute("UPDATE messages SET outcome = 'error', error = ? WHERE id = ?",
                   (f"The provider said: {html}", msg.id))  # fmt: skip
    tab = _show(qtbot, ctx, pool)
    for cid in (conversation_id, conv.id):
        tab.open_conversation(cid)
        tab.errors.show_error(f"Mistral refused the request: {html}")
        QApplication.processEvents()
        labels = tab.findChildren(QLabel)
        for label in labels:
            label.sizeHint()  # a rich-text label lays its HTML out (and loads images) here
        item = tab.conversations.list.currentItem()
        for tip in (item.toolTip(), tab.title.toolTip()):
            QToolTip.showText(tab.mapToGlobal(QPoint(20, 20)), tip, tab)
            QApplication.processEvents()
            QToolTip.hideText()
        tally.case(leaked=tripwire.is_tripped() or bool(hits))
    assert tab.banner.text().endswith(html)  # the error shows what was sent, as text
    answer = tab.view.widgets[-1]
    assert answer.author.text() == html
    tally.check()
    assert not tripwire.is_tripped() and hits == []


def test_bidi_overrides_stay_inside_their_text(tally: Tally) -> None:
    spoof = "invoice\u202egpj.exe"
    title = title_from(f"Open {spoof} \u2066now\u2069 please")
    tally.case(leaked="\u202e" in title or "\u2066" in title)
    assert title == "Open invoicegpj.exe now please"
    tally.check()


def test_a_megabyte_on_one_line_opens_quickly(
    qtbot: QtBot, ctx: AppContext, pool: WorkerPool, tally: Tally
) -> None:
    lines = {
        "no spaces": "x" * MB,
        "words": "word " * (MB // 5),
        "markdown": "**bold** `code` [l](https://e.org) " * (MB // 36),
    }
    for name, line in lines.items():
        add_exchange(ctx, line, line, title=name)
    tab = _show(qtbot, ctx, pool)
    for conversation_id in tab.conversations.ids():
        started = time.perf_counter()
        tab.open_conversation(conversation_id)
        QApplication.processEvents()
        qtbot.waitUntil(lambda: not tab.view.filling)
        seconds = time.perf_counter() - started
        conv = tab.session.current_conversation()
        assert conv is not None
        kept = tab.view.widgets[-1].text == lines[conv.title]  # Copy and exports get all of it
        tally.case(hung=seconds > 2.0, lost=not kept, note=f"{conv.title}: {seconds:.2f} s")
    tally.check()


def test_the_window_opens_a_conversation_that_names_dev_zero_and_a_fifo(
    data_dir: Path, tmp_path: Path, tally: Tally
) -> None:
    """Regression (issue 15, input 1): the whole app, as a user starts it."""
    fifo = tmp_path / "no-writer"
    os.mkfifo(fifo)
    ctx = AppContext.open(data_dir)
    add_exchange(ctx, "Picture?", f"![zero](file:///dev/zero) and ![fifo]({fifo.as_uri()})")
    ctx.close()
    run = open_window_once(data_dir, timeout=60, memory_limit=2 << 30)
    tally.case(hung=run.hung or run.code != 0, note=run.stderr[-300:])
    assert run.code == 0, f"the window did not open: {run.stderr[-2000:]}"
    assert "PARLEY_SHOWN" in run.stdout
    tally.check()


def test_gateway_callers_names_in_billing_and_the_gateway_list_are_shown_as_text(
    qtbot: QtBot, ctx: AppContext, pool: WorkerPool, tripwire: Tripwire,
    web: tuple[str, list[str]], tally: Tally,
) -> None:  # fmt: skip
    """Any program with a gateway token names its client (`X-Parley-Client`) and model:
    the Billing table's and the gateway list's tool tips must not render them as HTML."""
    from app.core.gateway.service import Served
    from app.ui.billing import BillingTab
    from app.ui.gateway.controller import GatewayController
    from app.ui.gateway.dialog import GatewayDialog
    from tests.billing.conftest import result

    base, hits = web
    html = f'<img src="{tripwire.url}"><img src="{base}/x.png"><b>bold</b>'
    ctx.ledger.record(result(model=html), conversation_id=None, message_id=None,
                      project=html, client=html)  # fmt: skip
    billing = BillingTab(ctx, pool)
    qtbot.addWidget(billing)
    with qtbot.waitSignal(billing.data_loaded, timeout=10_000):
        billing.show()
    model = billing.model
    qtbot.waitUntil(lambda: model.index(0, 0).data() is not None, timeout=5000)
    tips = [model.index(0, c).data(Qt.ItemDataRole.ToolTipRole)
            for c in range(model.columnCount())]  # fmt: skip
    assert html in [model.index(0, c).data() for c in range(model.columnCount())]
    dialog = GatewayDialog(GatewayController(ctx, pool), billing)
    qtbot.addWidget(dialog)
    dialog._add_row(Served(time.time(), html, html, 200, "done", 3, 4, None, None, html, 0.1))
    tips += [dialog.table.item(0, c).toolTip() for c in range(dialog.table.columnCount())]
    for tip in tips:
        QToolTip.showText(billing.mapToGlobal(QPoint(20, 20)), tip, billing)
        QApplication.processEvents()
        QToolTip.hideText()
        tally.case(leaked=tripwire.is_tripped() or bool(hits), note=tip[:60])
    tally.check()
