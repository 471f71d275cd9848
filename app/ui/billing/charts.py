"""The Billing charts. pyqtgraph is imported on the tab's first show: it costs ~0.5 s at start-up.

Signals: none. `show_summary()` draws one `BillingSummary`, already converted
into the display currency; a notice names the rates used.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, QPointF, Qt
from PySide6.QtWidgets import QGridLayout, QLabel, QStackedWidget, QVBoxLayout, QWidget

from app.core.billing.aggregates import DAY_S, day_start_ts
from app.ui.billing.format import money
from app.workers import FunctionJob

if TYPE_CHECKING:
    import threading

    from app.core.billing.aggregates import BillingSummary, GroupSpend
    from app.workers import WorkerPool
    from app.workers.jobs import ProgressFn

EMPTY_TEXT = (
    "No requests in this range yet.\n"
    "Every answer, local or cloud, is billed here with its tokens, time and cost."
)
TOP_GROUPS = 12


def preload_pyqtgraph(pool: WorkerPool) -> None:
    """Import pyqtgraph on the "io" lane (the window calls this once start-up is over).

    Its import is most of the Billing tab's first open; done here, the tab only
    draws. The import creates no Qt object, so a worker thread may run it."""
    import sys

    if "pyqtgraph" in sys.modules:
        return

    def work(_cancel: threading.Event, _progress: ProgressFn) -> None:
        import pyqtgraph  # noqa: F401

    pool.submit(FunctionJob(work), "io")



INK = "#374151"
# Tableau 10: distinct, colour-blind friendly, calm on a light background.
PALETTE = ("#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948",
           "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac")  # fmt: skip


def series_color(index: int) -> str:
    return PALETTE[index % len(PALETTE)]


@dataclass(frozen=True, slots=True)
class Bar:
    lo: float  # the bar's extent along the category axis (x for columns, y for rows)
    hi: float
    text: str


class Chart:
    """A titled ViewBox with axes in its own view: a PlotWidget without the option menus.

    PlotItem builds a context menu form with dozens of widgets per plot; five of
    them were a third of the tab's opening time.
    """

    def __init__(self, pg: Any, title: str, dates: bool) -> None:
        # Light background and dark ink, to sit with the rest of the window.
        self.widget = pg.GraphicsLayoutWidget()
        self.widget.setBackground("w")
        self.widget.ci.setContentsMargins(4, 4, 8, 4)
        self.vb = pg.ViewBox(enableMouse=False, enableMenu=False)
        bottom = pg.DateAxisItem if dates else pg.AxisItem
        self.axes = {
            "left": pg.AxisItem("left", linkView=self.vb),
            "bottom": bottom("bottom", linkView=self.vb),
        }
        for axis in self.axes.values():
            # "USD (x0.001)" reads badly, and each prefix update re-renders the label.
            axis.autoSIPrefix = False
        for axis in self.axes.values():
            axis.setPen(INK)
            axis.setTextPen(INK)
        # The title is a plain QLabel above the plot (see ChartsPanel.build): pyqtgraph's
        # LabelItem lays out rich text and cost ~35 ms per chart on the tab's first open.
        self.title = title
        self.widget.addItem(self.axes["left"], row=0, col=0)
        self.widget.addItem(self.vb, row=0, col=1)
        self.widget.addItem(self.axes["bottom"], row=1, col=1)
        self.legend: Any = None
        self._pg = pg

    def clear(self) -> None:
        self.vb.clear()

    def add(self, item: Any) -> None:
        self.vb.addItem(item)
        self.vb.autoRange(padding=0.04)

    def set_label(self, side: str, text: str) -> None:
        self.axes[side].setLabel(text)

    def set_ticks(self, side: str, ticks: list[tuple[float, str]]) -> None:
        self.axes[side].setTicks([ticks])

    def add_legend(self) -> Any:
        if self.legend is None:
            self.legend = self._pg.LegendItem(offset=(10, 10), brush=(0, 0, 0, 170),
                                              labelTextColor="w")  # fmt: skip
            self.legend.setParentItem(self.vb)
        return self.legend


class HoverReadout(QObject):
    """Shows the value under the mouse in a label under the chart."""

    def __init__(self, chart: Chart, label: QLabel, horizontal: bool) -> None:
        super().__init__(label)
        self.chart = chart
        self.label = label
        self.horizontal = horizontal
        self.bars: list[Bar] = []
        self.default = ""
        chart.widget.scene().sigMouseMoved.connect(self.on_mouse_moved)

    def set_bars(self, bars: list[Bar], default: str) -> None:
        self.bars = bars
        self.default = default
        self.label.setText(default)

    def on_mouse_moved(self, pos: QPointF) -> None:
        point = self.chart.vb.mapSceneToView(pos)
        self.label.setText(self.text_at(point.y() if self.horizontal else point.x()))

    def text_at(self, value: float) -> str:
        for bar in self.bars:
            if bar.lo <= value <= bar.hi:
                return bar.text
        return self.default


class ChartsPanel(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.notice = QLabel()
        self.notice.setWordWrap(True)
        self.notice.setVisible(False)
        self.empty = QLabel(EMPTY_TEXT)
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.grid_host = QWidget()
        self.stack = QStackedWidget()
        self.stack.addWidget(self.empty)
        self.stack.addWidget(self.grid_host)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.notice)
        layout.addWidget(self.stack, 1)
        self.plots: dict[str, Chart] = {}
        self.hovers: dict[str, HoverReadout] = {}
        self._pg: Any = None
        self._currency_label = ""

    @property
    def built(self) -> bool:
        return self._pg is not None

    def build(self) -> None:
        """Import pyqtgraph and create the plots (the tab does it while its SQL runs)."""
        if self.built:
            return
        import pyqtgraph as pg  # lazy: see the module docstring

        self._pg = pg
        grid = QGridLayout(self.grid_host)
        grid.setContentsMargins(0, 0, 0, 0)
        specs = (
            ("spend_per_day", "Spend per day, by provider", True, False),
            ("spend_by_model", "Spend by model", False, True),
            ("tokens_per_day", "Tokens per day", True, False),
            ("cost_per_1k", "Cost per 1k tokens, by backend", False, False),
            ("spend_by_project", "Spend by project", False, True),
        )
        for i, (key, title, dates, horizontal) in enumerate(specs):
            chart = Chart(pg, title, dates)
            readout = QLabel()
            readout.setWordWrap(True)
            readout.setObjectName(f"{key}_hover")
            cell = QWidget()
            box = QVBoxLayout(cell)
            box.setContentsMargins(0, 0, 0, 0)
            box.setSpacing(2)
            heading = QLabel(title)
            heading.setAlignment(Qt.AlignmentFlag.AlignCenter)
            heading.setStyleSheet(f"color: {INK};")
            box.addWidget(heading)
            box.addWidget(chart.widget, 1)
            box.addWidget(readout)
            grid.addWidget(cell, i // 2, i % 2)
            self.plots[key] = chart
            self.hovers[key] = HoverReadout(chart, readout, horizontal)

    def show_summary(self, summary: BillingSummary, currency: str) -> None:
        if summary.is_empty:
            self.stack.setCurrentWidget(self.empty)
            self.notice.setVisible(False)
            return
        self.build()
        self.stack.setCurrentWidget(self.grid_host)
        self._notice(summary, currency)
        if currency != self._currency_label:
            self._currency_label = currency
            self.plots["spend_per_day"].set_label("left", currency)
            self.plots["spend_by_model"].set_label("bottom", currency)
            self.plots["spend_by_project"].set_label("bottom", currency)
        self._spend_per_day(summary, currency)
        self._tokens_per_day(summary)
        self._groups("spend_by_model", summary.models, currency, "(no model)")
        self._groups("spend_by_project", summary.projects, currency, "(no project)")
        self._cost_per_1k(summary, currency)

    def _notice(self, summary: BillingSummary, currency: str) -> None:
        parts = []
        if summary.converted:
            parts.append(f"Converted into {currency} at {summary.converted}.")
        if summary.unconverted:
            parts.append(f"{summary.unconverted:,} requests are in a currency without an exchange "
                         f"rate and are left out: set one with `parley prices rate`.")  # fmt: skip
        if summary.unpriced:
            parts.append(f"{summary.unpriced:,} requests have no price yet: set one under "
                         f"Prices and they will be priced.")  # fmt: skip
        self.notice.setText(" ".join(parts))
        self.notice.setVisible(bool(parts))

    def _spend_per_day(self, summary: BillingSummary, currency: str) -> None:
        pg = self._pg
        plot = self.plots["spend_per_day"]
        plot.clear()
        legend = plot.add_legend()
        legend.clear()
        providers = sorted({d.provider for d in summary.days if d.currency == currency})
        days = sorted({d.day for d in summary.days})
        index = {day: i for i, day in enumerate(days)}
        heights = {p: [0.0] * len(days) for p in providers}
        for d in summary.days:
            if d.currency == currency:
                heights[d.provider][index[d.day]] += d.cost
        xs = [day_start_ts(day) + DAY_S / 2 for day in days]
        base = [0.0] * len(days)
        for i, provider in enumerate(providers):
            color = series_color(i)
            bars = pg.BarGraphItem(x=xs, height=heights[provider], y0=list(base),
                                   width=DAY_S * 0.8, brush=color, pen=color, name=provider)
            plot.add(bars)
            legend.addItem(bars, provider)
            base = [b + h for b, h in zip(base, heights[provider], strict=True)]
        hover = []
        for i, day in enumerate(days):
            split = ", ".join(f"{p} {money(heights[p][i], currency)}" for p in providers
                              if heights[p][i])  # fmt: skip
            label = _day_label(day)
            hover.append(Bar(xs[i] - DAY_S / 2, xs[i] + DAY_S / 2,
                             f"{label}: {money(base[i], currency)}" + (f" ({split})" if split
                                                                       else "")))  # fmt: skip
        total = sum(base)
        self.hovers["spend_per_day"].set_bars(hover, f"Total {money(total, currency)}")

    def _tokens_per_day(self, summary: BillingSummary) -> None:
        pg = self._pg
        plot = self.plots["tokens_per_day"]
        plot.clear()
        totals: dict[int, int] = {}
        for d in summary.days:
            totals[d.day] = totals.get(d.day, 0) + d.tokens
        days = sorted(totals)
        xs = [day_start_ts(day) + DAY_S / 2 for day in days]
        color = series_color(0)
        plot.add(pg.BarGraphItem(x=xs, height=[totals[d] for d in days], width=DAY_S * 0.8,
                                     brush=color, pen=color))  # fmt: skip
        hover = [Bar(x - DAY_S / 2, x + DAY_S / 2,
                     f"{_day_label(d)}: {totals[d]:,} tokens")
                 for x, d in zip(xs, days, strict=True)]  # fmt: skip
        self.hovers["tokens_per_day"].set_bars(hover, f"{sum(totals.values()):,} tokens")

    def _groups(
        self, key: str, groups: tuple[GroupSpend, ...], currency: str, blank: str
    ) -> None:
        pg = self._pg
        plot = self.plots[key]
        plot.clear()
        merged: dict[str, float] = {}
        counts: dict[str, int] = {}
        for g in groups:
            name = g.key or blank
            counts[name] = counts.get(name, 0) + g.requests
            if g.currency == currency:
                merged[name] = merged.get(name, 0.0) + g.cost
            else:
                merged.setdefault(name, 0.0)
        top = sorted(merged.items(), key=lambda kv: -kv[1])[:TOP_GROUPS]
        top.reverse()  # largest at the top
        ys = list(range(len(top)))
        plot.add(pg.BarGraphItem(x0=0, y=ys, height=0.6, width=[v for _, v in top],
                                     brush=series_color(1)))  # fmt: skip
        plot.set_ticks("left", [(y, name[:28]) for y, (name, _) in zip(ys, top, strict=True)])
        hover = [Bar(y - 0.4, y + 0.4,
                     f"{name}: {money(v, currency)} over {counts[name]:,} requests")
                 for y, (name, v) in zip(ys, top, strict=True)]  # fmt: skip
        self.hovers[key].set_bars(hover, f"{len(merged)} in this range")

    def _cost_per_1k(self, summary: BillingSummary, currency: str) -> None:
        pg = self._pg
        plot = self.plots["cost_per_1k"]
        plot.clear()
        rows = [(g.key, g.cost / g.tokens * 1000) for g in summary.backends
                if g.currency == currency and g.tokens > 0]  # fmt: skip
        rows.sort(key=lambda r: r[0])
        xs = list(range(len(rows)))
        plot.add(pg.BarGraphItem(x=xs, height=[v for _, v in rows], width=0.6,
                                     brush=series_color(2)))  # fmt: skip
        plot.set_ticks("bottom", [(x, name) for x, (name, _) in zip(xs, rows, strict=True)])
        hover = [Bar(x - 0.4, x + 0.4, f"{name}: {money(v, currency)} per 1k tokens")
                 for x, (name, v) in zip(xs, rows, strict=True)]  # fmt: skip
        self.hovers["cost_per_1k"].set_bars(hover, f"{currency} per 1,000 tokens")


_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _day_label(day: int) -> str:
    """`Fri 20 Mar` for a local day number (strftime costs ~40 us a call, 365 calls a year)."""
    import datetime as dt

    date = dt.date(1970, 1, 1) + dt.timedelta(days=day)
    return f"{_WEEKDAYS[date.weekday()]} {date.day:02d} {_MONTHS[date.month - 1]}"
