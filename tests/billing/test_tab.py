from __future__ import annotations

import csv
import time
from typing import TYPE_CHECKING

import pytest
from PySide6.QtCore import QPointF, Qt

from app.core.billing.aggregates import DAY_S
from app.ui.billing import BillingTab
from app.workers import WorkerPool
from tests.billing.conftest import result

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from pytestqt.qtbot import QtBot

    from app.core.context import AppContext

# The offscreen platform plugin says this for every shown top-level window.
pytestmark = pytest.mark.qt_log_ignore("propagateSizeHints")


@pytest.fixture
def pool() -> Iterator[WorkerPool]:
    workers = WorkerPool({"db": 1})
    yield workers
    workers.shutdown()


def _open(qtbot: QtBot, ctx: AppContext, pool: WorkerPool) -> BillingTab:
    tab = BillingTab(ctx, pool)
    qtbot.addWidget(tab)
    assert not tab.charts.built  # nothing read or imported before the first show
    with qtbot.waitSignal(tab.data_loaded, timeout=10_000):
        tab.show()
    return tab


def _seed(ctx: AppContext) -> int:
    conv = ctx.store.create(target="local:x")
    now = time.time()
    for i in range(30):
        ctx.ledger.record(result(), conversation_id=conv.id, message_id=None,
                          created_at=now - i * DAY_S / 3, project="acme" if i % 2 else None)
    ctx.ledger.record(result(backend="local", provider="llama.cpp", model="smol"),
                      conversation_id=conv.id, message_id=None, created_at=now)
    ctx.ledger.record(result(provider="acme", backend="acme", model="mystery"),
                      conversation_id=None, message_id=None, created_at=now - 60)
    ctx.ledger.prices.set("scaleway", "m", 1.0, 1.0, currency="EUR")
    ctx.ledger.record(result(provider="scaleway", backend="scaleway", model="m"),
                      conversation_id=None, message_id=None, created_at=now - 120)
    return conv.id  # fmt: skip


def test_empty_ledger_says_so_instead_of_empty_charts(
    qtbot: QtBot, ctx: AppContext, pool: WorkerPool
) -> None:
    tab = _open(qtbot, ctx, pool)
    assert tab.charts.stack.currentWidget() is tab.charts.empty
    assert "No requests in this range yet" in tab.charts.empty.text()
    assert tab.model.rowCount() == 0
    assert "Today <b>$0.00</b>" in tab.totals.text()


def test_charts_totals_and_hover(qtbot: QtBot, ctx: AppContext, pool: WorkerPool) -> None:
    _seed(ctx)
    tab = _open(qtbot, ctx, pool)
    charts = tab.charts
    assert charts.built
    assert charts.stack.currentWidget() is charts.grid_host
    assert set(charts.plots) == {"spend_per_day", "spend_by_model", "tokens_per_day",
                                 "cost_per_1k", "spend_by_project"}  # fmt: skip
    assert "Today <b>$" in tab.totals.text()
    # Issue 14: the EUR row is converted at the shipped rate, which the notice names.
    assert "Converted into USD at 1 EUR = 1.17 USD (shipped, 2025-06-30)" in charts.notice.text()
    assert "1 requests have no price" in charts.notice.text()
    # Hover over the newest day's bar: the readout shows its value.
    hover = charts.hovers["spend_per_day"]
    bar = hover.bars[-1]
    plot = charts.plots["spend_per_day"]
    scene = plot.vb.mapViewToScene(QPointF((bar.lo + bar.hi) / 2, 0.0))
    hover.on_mouse_moved(scene)
    assert hover.label.text() == bar.text and "$" in bar.text
    assert "acme" in " ".join(b.text for b in charts.hovers["spend_by_project"].bars)


def test_requests_table_pages_sorts_filters_and_opens_conversations(
    qtbot: QtBot, ctx: AppContext, pool: WorkerPool
) -> None:
    conv_id = _seed(ctx)
    tab = _open(qtbot, ctx, pool)
    model = tab.model
    assert model.rowCount() == 33
    # Rows arrive a page at a time from the db lane, newest first.
    qtbot.waitUntil(lambda: model.index(0, 0).data() is not None, timeout=5000)
    tab.table.sortByColumn(11, Qt.SortOrder.DescendingOrder)  # cost
    qtbot.waitUntil(lambda: model.index(0, 4).data() == "scaleway", timeout=5000)
    tab.filter.setText("mystery")
    qtbot.waitUntil(lambda: model.rowCount() == 1, timeout=5000)
    qtbot.waitUntil(lambda: model.index(0, 11).data() == "no price", timeout=5000)
    tab.filter.setText("")
    qtbot.waitUntil(lambda: model.rowCount() == 33, timeout=5000)
    tab.table.sortByColumn(0, Qt.SortOrder.DescendingOrder)
    qtbot.waitUntil(lambda: model.conversation_id(0) is not None, timeout=5000)
    tab.sections.setCurrentIndex(1)
    qtbot.waitUntil(lambda: tab.table.visualRect(model.index(0, 0)).isValid(), timeout=5000)
    cell = tab.table.visualRect(model.index(0, 0)).center()
    # An item view emits doubleClicked only for the index the press landed on.
    qtbot.mouseClick(tab.table.viewport(), Qt.MouseButton.LeftButton, pos=cell)
    with qtbot.waitSignal(tab.conversation_open_requested) as opened:
        qtbot.mouseDClick(tab.table.viewport(), Qt.MouseButton.LeftButton, pos=cell)
    assert opened.args == [conv_id]


def test_export_button_job_and_unwritable_path(
    qtbot: QtBot, ctx: AppContext, pool: WorkerPool, tmp_path: Path
) -> None:
    _seed(ctx)
    tab = _open(qtbot, ctx, pool)
    out = tmp_path / "tab.csv"
    with qtbot.waitSignal(tab.export_finished, timeout=10_000) as done:
        tab.export_to(out)
    assert done.args[0].startswith("Exported 33 requests")
    with out.open(encoding="utf-8", newline="") as f:
        assert len(list(csv.DictReader(f))) == 33
    with qtbot.waitSignal(tab.export_finished, timeout=10_000) as failed:
        tab.export_to(tmp_path)
    assert "Couldn't write the CSV file" in failed.args[0]
    assert tab.export_button.isEnabled()


@pytest.mark.parametrize("bad", ["-1", "nan", "1e9", "abc"])
def test_price_editor_rejects_bad_prices(
    qtbot: QtBot, ctx: AppContext, pool: WorkerPool, bad: str
) -> None:
    tab = _open(qtbot, ctx, pool)
    panel = tab.prices
    panel.provider.setText("acme")
    panel.model.setText("mystery")
    panel.input.setText(bad)
    panel.output.setText("1")
    panel.save_price()
    assert "input price" in panel.message.text()
    assert ctx.ledger.prices.lookup("acme", "mystery") is None


def test_price_editor_saves_and_prices_old_rows(
    qtbot: QtBot, ctx: AppContext, pool: WorkerPool
) -> None:
    _seed(ctx)
    tab = _open(qtbot, ctx, pool)
    panel = tab.prices
    panel.provider.setText("acme")
    panel.model.setText("mystery")
    panel.input.setText("2")
    panel.output.setText("4")
    with qtbot.waitSignal(tab.data_loaded, timeout=10_000):
        panel.save_price()
    assert "Priced 1 earlier requests" in panel.message.text()
    assert tab.snapshot is not None and tab.snapshot.summary.unpriced == 0


def test_budget_editor(qtbot: QtBot, ctx: AppContext, pool: WorkerPool) -> None:
    tab = _open(qtbot, ctx, pool)
    panel = tab.budgets
    panel.amount.setText("-5")
    panel.save_budget()
    assert "more than 0" in panel.message.text()
    panel.amount.setText("5")
    panel.scope.setCurrentText("project")
    panel.save_budget()
    assert "needs the project's name" in panel.message.text()
    panel.name.setText("acme")
    panel.hard.setChecked(True)
    with qtbot.waitSignal(tab.data_loaded, timeout=10_000):
        panel.save_budget()
    assert panel.table.rowCount() == 1
    assert panel.table.item(0, 1).text() == "acme"
    assert panel.table.item(0, 6).text() == "yes"
    panel.table.selectRow(0)
    with qtbot.waitSignal(tab.data_loaded, timeout=10_000):
        panel.delete_selected()
    assert panel.table.rowCount() == 0


def test_range_selector(qtbot: QtBot, ctx: AppContext, pool: WorkerPool) -> None:
    now = time.time()
    ctx.ledger.record(result(), conversation_id=None, message_id=None, created_at=now - 100 * DAY_S)
    ctx.ledger.record(result(), conversation_id=None, message_id=None, created_at=now)
    tab = _open(qtbot, ctx, pool)
    assert tab.model.rowCount() == 1
    with qtbot.waitSignal(tab.data_loaded, timeout=10_000):
        tab.range.setCurrentText("12 months")
    assert tab.model.rowCount() == 2
    with qtbot.waitSignal(tab.data_loaded, timeout=10_000):
        tab.range.setCurrentText("Custom")
    assert tab.since.isVisible()


def test_local_costs_editor_validates_and_saves(
    qtbot: QtBot, ctx: AppContext, pool: WorkerPool
) -> None:
    tab = _open(qtbot, ctx, pool)
    panel = tab.local_costs
    panel.watts.setText("-3")
    panel.save_settings()
    assert "device wattage can't be negative" in panel.message.text()
    panel.watts.setText("250")
    panel.per_kwh.setText("nan")
    panel.save_settings()
    assert "electricity price must be a number" in panel.message.text()
    panel.per_kwh.setText("0.4")
    panel.save_settings()
    assert panel.message.text().startswith("Saved")
    ctx.ledger.record(result(backend="local", duration_s=36.0), conversation_id=None,
                      message_id=None)  # fmt: skip
    row = ctx.ledger.rows()[0]
    assert row.energy_wh == pytest.approx(2.5)
    assert row.cost == pytest.approx(2.5 / 1000 * 0.4)
