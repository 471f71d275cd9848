"""Compare runs its cloud targets concurrently: wall time of a 3-target comparison ÷ the
slowest target alone ≤ 1.15, while the GUI event loop never stalls more than 50 ms.

The three "cloud" targets are local OpenAI-compatible servers that stream at a fixed
pace, as a remote provider does (their speed is set by the far end, not by this
machine's CPU), so the figure measures Parley's concurrency, not CPU contention.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from _common import median, report
from PySide6.QtCore import QElapsedTimer, QEventLoop, QObject, QTimer, Slot
from PySide6.QtWidgets import QApplication

from app.core.chat.compare import CompareRunner, Comparison, ComparisonStore
from app.core.chat.targets import Target
from app.core.context import AppContext
from app.core.providers import ProviderKind
from app.workers import CompareJob, WorkerPool
from tests.helpers.fault_server import DONE, FaultServer, Reply, delta, pause

TOKENS = 120
PACES_S = (0.010, 0.015, 0.020)  # per token: ~1.2 s, 1.8 s, 2.4 s answers
RUNS = 3


def paced_answer(pace: float) -> Reply:
    steps = []
    for i in range(TOKENS):
        steps += [delta(f"word{i} "), pause(pace)]
    steps += [delta("", usage={"prompt_tokens": 12, "completion_tokens": TOKENS},
                    finish="stop")]  # fmt: skip
    return Reply.stream(*steps, DONE)


class StallMeter(QObject):
    """A 1 ms repeating timer; the longest gap between its ticks is the worst stall."""

    def __init__(self) -> None:
        super().__init__()
        self.timer = QTimer(self)
        self.timer.setInterval(1)
        self.timer.timeout.connect(self.tick)
        self.clock = QElapsedTimer()
        self.gaps: list[float] = []

    def start(self) -> None:
        self.gaps.clear()
        self.clock.start()
        self.timer.start()

    @Slot()
    def tick(self) -> None:
        self.gaps.append(self.clock.nsecsElapsed() / 1e6)
        self.clock.restart()

    def stop(self) -> float:
        self.timer.stop()
        return max(self.gaps[1:], default=0.0)


class Waiter(QObject):
    def __init__(self) -> None:
        super().__init__()
        self.loop = QEventLoop()
        self.result: Comparison | None = None

    @Slot(int, object)
    def on_finished(self, _job_id: int, result: Comparison) -> None:
        self.result = result
        self.loop.quit()

    @Slot(int, int, str)
    def on_tokens(self, _job_id: int, _position: int, _text: str) -> None:
        pass  # delivered to the GUI thread like the real view's slot


def run_job(pool: WorkerPool, runner: CompareRunner, targets: list[Target]) -> float:
    job = CompareJob(runner, "Tell me something.", targets)
    waiter = Waiter()
    job.finished.connect(waiter.on_finished)
    job.column_token_received.connect(waiter.on_tokens)
    start = time.perf_counter()
    pool.submit(job, lane="net")
    waiter.loop.exec()
    elapsed = time.perf_counter() - start
    assert waiter.result is not None
    assert all(c.outcome == "done" for c in waiter.result.columns), waiter.result
    return elapsed


def main() -> None:
    QApplication([])
    servers = [FaultServer() for _ in PACES_S]
    with tempfile.TemporaryDirectory() as tmp:
        ctx = AppContext.open(Path(tmp))
        pool = WorkerPool()
        try:
            targets = []
            for i, server in enumerate(servers):
                ctx.providers.add(f"cloud{i}", ProviderKind.OPENAI, base_url=server.base_url,
                                  model="fault-model")  # fmt: skip
                targets.append(Target(f"cloud{i}", "fault-model"))
            runner = CompareRunner(ctx.backends, ctx.ledger, ComparisonStore(ctx.db))
            meter = StallMeter()
            alone, together, stalls = [], [], []
            for _ in range(RUNS):
                servers[-1].script(paced_answer(PACES_S[-1]))
                alone.append(run_job(pool, runner, [targets[-1]]))
                for server, pace in zip(servers, PACES_S, strict=True):
                    server.script(paced_answer(pace))
                meter.start()
                together.append(run_job(pool, runner, targets))
                stalls.append(meter.stop())
        finally:
            pool.shutdown()
            ctx.close()
            for server in servers:
                server.close()
    ratio = median(together) / median(alone)
    worst_stall = max(stalls)
    report({"bench": "compare", "ratio": ratio, "target": "<= 1.15",
            "pass": ratio <= 1.15 and worst_stall <= 50},
           together_s=round(median(together), 3), slowest_alone_s=round(median(alone), 3),
           max_stall_ms=round(worst_stall, 1), targets=len(targets), runs=RUNS)  # fmt: skip


if __name__ == "__main__":
    main()
