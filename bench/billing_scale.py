"""Billing at scale: 1,000,000 ledger rows over two years.

Judged (issue 14): the first open of the Billing tab on the 12-month range,
in a fresh process, until every chart is drawn (offscreen Qt), pyqtgraph's
import included: at most 300 ms, and at most 3x the bare SQL that reads the
same totals straight from the ledger (one GROUP BY over the year's rows on
its covering index, the query a careful DBA would write). The tab reads the
daily roll-up instead (`usage_daily`, kept in step by triggers).

The warm re-opens (pyqtgraph already imported) are reported as
`open_after_preload_12_months_ms`. (The window no longer imports pyqtgraph on a
worker after start-up: that import held the GUI thread for 0.4-0.6 s wherever
the user was, tests/reliability/test_load.py.) Also measured: 30 days,
the tab's own SQL
(`load_snapshot`), CSV export of every row (rows per second), and
`Ledger.record` of one cloud and one local row (median, ms).
"""

from __future__ import annotations

import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench._common import median, report

ROWS = 1_000_000
YEARS = 2
RUNS = 5
# The tab opens on its last range; a new user's is "30 days". 12 months is measured too.
RANGE = "12 months"
NARROW = "30 days"
FIRST_OPEN_MS = 300.0
# The same totals the tab shows, read from the ledger rows themselves.
BARE_SQL = (
    "SELECT date(created_at, 'unixepoch', 'localtime') AS day, provider, model, backend, "
    "COALESCE(project, ''), currency, SUM(cost), SUM(prompt_tokens + completion_tokens), "
    "COUNT(*), COUNT(*) - COUNT(cost) FROM usage INDEXED BY usage_billing "
    "WHERE created_at >= ? AND created_at < ? GROUP BY 1, 2, 3, 4, 5, 6"
)
PROVIDERS = (
    ("local", "llama.cpp", "Mistral-Small-3.2-24B-Q4_K_M", None, None),
    ("mistral", "mistral", "mistral-small-latest", 0.15, 0.60),
    ("mistral", "mistral", "mistral-small-2506", 0.10, 0.30),
    ("hf", "deepinfra", "mistralai/Mistral-Small-3.2-24B-Instruct-2506", 0.075, 0.20),
    ("scaleway", "scaleway", "mistral-small-3.2-24b-instruct-2506", 0.15, 0.35),
    ("ovh", "ovhcloud", "Mistral-Small-3.2-24B-Instruct-2506", 0.09, 0.28),
)
PROJECTS = (None, "acme", "globex", "initech")


def generate(db: object, now: float) -> float:
    from app.core.billing.aggregates import day_of
    from app.core.foundation.storage import Database

    assert isinstance(db, Database)
    rng = random.Random(6)
    span = YEARS * 365 * 86_400
    rows = []
    for i in range(ROWS):
        backend, provider, model, pin, pout = PROVIDERS[i % len(PROVIDERS)]
        prompt = rng.randint(50, 4000)
        completion = rng.randint(10, 1200)
        duration = completion / 40 + 0.2
        if pin is None:
            wh = 300 * duration / 3600
            cost, currency, source = wh / 1000 * 0.25, "USD", "energy estimated"
            compare = (prompt * 0.10 + completion * 0.30) / 1e6
        else:
            wh, compare = None, None
            cost, currency, source = (prompt * pin + completion * pout) / 1e6, "USD", "priced"
            if i % 997 == 0:
                cost, currency, source = None, None, "no price"
        created = now - rng.random() * span
        rows.append((
            created, day_of(created), backend, provider, model, prompt, completion,
            "reported", 0.2, duration, "done", PROJECTS[i % 4], cost, currency, source,
            pin, pout, wh, compare,
        ))  # fmt: skip
    started = time.perf_counter()
    with db.transaction() as conn:
        conn.executemany(
            "INSERT INTO usage (created_at, local_day, backend, provider, model, prompt_tokens, "
            "completion_tokens, token_source, ttft_s, duration_s, outcome, project, cost, "
            "currency, cost_source, price_input, price_output, energy_wh, compare_cost) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
    db.execute("ANALYZE")
    # A real ledger's pages were checkpointed into the main file long ago.
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return time.perf_counter() - started


def sql_times(ctx: Any, preset: str, runs: int) -> tuple[list[float], list[float]]:
    """(bare SQL over the ledger, the tab's own `load_snapshot`) for the range, warm."""
    from app.core.billing.aggregates import range_for
    from app.core.billing.readonly import read_connection
    from app.core.billing.snapshot import load_snapshot

    start, end = range_for(preset)
    conn = read_connection(ctx.db)
    conn.execute(BARE_SQL, (start, end)).fetchall()  # warm the page cache for both
    load_snapshot(ctx.db, start, end, time.time())
    bare, tab = [], []
    for _ in range(runs):
        t = time.perf_counter()
        conn.execute(BARE_SQL, (start, end)).fetchall()
        bare.append(time.perf_counter() - t)
        t = time.perf_counter()
        load_snapshot(ctx.db, start, end, time.time())
        tab.append(time.perf_counter() - t)
    conn.close()
    return bare, tab


def open_tab(app: Any, ctx: Any, pool: Any, preset: str) -> float:
    """Seconds from building the Billing tab to every chart painted."""
    from app.ui.billing import BillingTab

    ctx.settings.set("billing.range", preset)
    t = time.perf_counter()
    tab = BillingTab(ctx, pool)
    tab.resize(1200, 800)
    done = Done()
    tab.data_loaded.connect(done.set)
    tab.show()
    while not done.loaded:
        app.processEvents()
        time.sleep(0.0005)
    tab.grab()  # paint every chart
    elapsed = time.perf_counter() - t
    tab.close()
    tab.deleteLater()
    app.processEvents()
    return elapsed


class Done:
    def __init__(self) -> None:
        self.loaded = False

    def set(self) -> None:
        self.loaded = True


def main() -> int:
    # BILLING_BENCH_DIR reuses a generated data dir between runs (while tuning).
    reuse = os.environ.get("BILLING_BENCH_DIR")
    tmp = Path(reuse) if reuse else Path(tempfile.mkdtemp(prefix="parley-billing-bench-"))
    os.environ["PARLEY_DATA_DIR"] = str(tmp)
    from PySide6.QtWidgets import QApplication

    from app.core.billing.export import export_csv
    from app.core.context import AppContext
    from app.core.llm.contract import GenerationResult, Outcome, TokenSource, Usage
    from app.workers import WorkerPool

    ctx = AppContext.open(tmp)
    now = time.time()
    insert_s = generate(ctx.db, now) if ctx.ledger.count() < ROWS else 0.0
    ctx.ledger.budgets.set(100.0, "month")
    ctx.ledger.budgets.set(5.0, "day", provider="mistral", hard=True)

    app = QApplication.instance() or QApplication([])
    pool = WorkerPool({"db": 1})
    bare_times, rollup_times = sql_times(ctx, RANGE, RUNS)
    assert "pyqtgraph" not in sys.modules  # the first open pays for its import
    first_open_ms = open_tab(app, ctx, pool, RANGE) * 1000
    warm_times = [open_tab(app, ctx, pool, RANGE) for _ in range(RUNS)]
    narrow_times = [open_tab(app, ctx, pool, NARROW) for _ in range(RUNS)]
    pool.shutdown()
    t = time.perf_counter()
    import pyqtgraph  # noqa: F401  (already imported by the first open: ~0 here)

    assert (time.perf_counter() - t) < 0.01

    out = tmp / "all.csv"
    rates, cpu_rates = [], []
    for _ in range(3):
        t, cpu = time.perf_counter(), time.process_time()
        exported = export_csv(ctx.db, out).rows
        rates.append(exported / (time.perf_counter() - t))
        cpu_rates.append(exported / (time.process_time() - cpu))
        out.unlink()
    export_rate, export_cpu_rate = median(rates), median(cpu_rates)

    record_times = []
    for i in range(200):
        backend, provider, model = ("local", "llama.cpp", "m") if i % 2 else (
            "mistral", "mistral", "mistral-small-2506")  # fmt: skip
        result = GenerationResult("x", Outcome.DONE, Usage(500, 200, TokenSource.REPORTED),
                                  backend, provider, model, 0.1, 3.0)  # fmt: skip
        t = time.perf_counter()
        ctx.ledger.record(result, conversation_id=None, message_id=None)
        record_times.append(time.perf_counter() - t)
    ctx.close()
    if not reuse:
        shutil.rmtree(tmp, ignore_errors=True)  # ~300 MB of ledger

    bare_ms, rollup_ms = median(bare_times) * 1000, median(rollup_times) * 1000
    record_ms = median(record_times) * 1000
    ratio = first_open_ms / bare_ms
    passed = (ratio <= 3.0 and first_open_ms <= FIRST_OPEN_MS and export_rate >= 200_000
              and record_ms <= 2.0)  # fmt: skip
    print(f"inserted {ROWS:,} rows in {insert_s:.1f}s; range {RANGE}; first open "
          f"{first_open_ms:.0f} ms; warm opens {[round(x * 1000) for x in warm_times]} ms; "
          f"bare SQL {[round(x * 1000) for x in bare_times]} ms; tab SQL "
          f"{[round(x * 1000, 1) for x in rollup_times]} ms", file=sys.stderr)  # fmt: skip
    report(
        {"bench": "billing_scale", "ratio": ratio, "target": "<= 3.0 and first open <= 300 ms",
         "pass": passed},
        first_open_12_months_ms=round(first_open_ms, 1), bare_sql_12_months_ms=round(bare_ms, 1),
        tab_sql_12_months_ms=round(rollup_ms, 2),
        open_after_preload_12_months_ms=round(median(warm_times) * 1000, 1),
        warm_open_30_days_ms=round(median(narrow_times) * 1000, 1),
        export_rows_per_s=round(export_rate), record_ms=round(record_ms, 3),
        rows=ROWS, range=RANGE, export_rows_per_cpu_s=round(export_cpu_rate),
        load_average=round(os.getloadavg()[0], 2),
    )  # fmt: skip
    return 0 if passed else 1


if __name__ == "__main__":
    raise SystemExit(main())
