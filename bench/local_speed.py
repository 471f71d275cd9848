"""Local generation speed as the user sees it: tokens/s arriving in the real window ÷ a bare
llama-cpp-python token loop. Target ≥ 0.95.

Parley's side is the whole window (MainWindow, shown, rendering on): the prompt goes in
through the composer's Send button, ChatService runs in a ChatJob on the worker pool's
local lane, and the tokens arrive on the GUI thread as the chat tab's runner delivers them,
while the message view renders them. Its rate is the tokens after the first delivery ÷ the
time from the first delivery to the last. The bare loop is `Llama.generate()` on the same
loaded model, prompt, sampler settings and length, measured the same way (tokens after the
first ÷ time after the first). Runs alternate; medians. The backend-only figure (the same
ChatJob with no window) is reported as a detail.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from _common import median, report, starter_data_dir
from PySide6.QtCore import QEventLoop, QObject, QTimer, Slot
from PySide6.QtWidgets import QApplication

from app.core.context import AppContext
from app.core.llm.contract import Sampling
from app.core.llm.targets import Target
from app.core.local.catalog import STARTER_NAME
from app.core.local.llama_backend import MIN_P, TOP_K
from app.ui.main_window import MainWindow
from app.workers import ChatJob, WorkerPool

if TYPE_CHECKING:
    import threading

    from app.core.chat.service import TurnResult

TOKENS = 768
RUNS = 5
TARGET = 0.95
PROMPT = "Write a long, detailed story about a lighthouse keeper and a storm."
SAMPLING = Sampling(temperature=0.0, top_p=0.95, max_tokens=TOKENS, context_length=2048)


class Receiver(QObject):
    def __init__(self) -> None:
        super().__init__()
        self.first: float | None = None
        self.end = 0.0
        self.result: TurnResult | None = None
        self.loop = QEventLoop()

    @Slot(int, str)
    def on_tokens(self, _job_id: int, _text: str) -> None:
        if self.first is None:
            self.first = time.perf_counter()

    @Slot(int, object)
    def on_finished(self, _job_id: int, result: TurnResult) -> None:
        self.end = time.perf_counter()
        self.result = result
        self.loop.quit()


def parley_run(ctx: AppContext, pool: WorkerPool) -> tuple[float, int]:
    conv = ctx.store.create(sampling=SAMPLING)
    target = Target("local", STARTER_NAME)

    def start(cancel: threading.Event):  # type: ignore[no-untyped-def]
        return ctx.chat.send(conv.id, PROMPT, target, cancel)

    job = ChatJob(start)
    rx = Receiver()
    job.token_received.connect(rx.on_tokens)
    job.finished.connect(rx.on_finished)
    pool.submit(job, lane="local")
    QTimer.singleShot(120_000, rx.loop.quit)
    rx.loop.exec()
    assert rx.result is not None and rx.first is not None
    # The first signal carries the first coalesced batch: count tokens from the result.
    tokens = rx.result.result.usage.completion_tokens
    ttft = rx.result.result.ttft_s or 0.0
    decode_s = rx.result.result.duration_s - ttft
    return (tokens - 1) / decode_s, tokens


class Arrivals(QObject):
    """When each delivery of text reached the GUI thread, and what it carried."""

    def __init__(self) -> None:
        super().__init__()
        self.times: list[float] = []
        self.texts: list[str] = []
        self.loop = QEventLoop()

    @Slot(str)
    def on_text(self, text: str) -> None:
        self.times.append(time.perf_counter())
        self.texts.append(text)

    @Slot()
    def on_ended(self) -> None:
        self.loop.quit()


def window_run(ctx: AppContext, window: MainWindow) -> tuple[float, int]:
    """(tokens/s as they arrive in the window, tokens) for one answer sent from the composer."""
    tab = window.chat_tab
    conv = ctx.store.create(sampling=SAMPLING, target=f"local:{STARTER_NAME}")
    tab.open_conversation(conv.id)
    arrivals = Arrivals()
    tab.runner.text_received.connect(arrivals.on_text)
    tab.runner.turn_ended.connect(arrivals.on_ended)
    try:
        tab.composer.set_text(PROMPT)
        tab.composer.send_button.click()
        QTimer.singleShot(300_000, arrivals.loop.quit)
        arrivals.loop.exec()
    finally:
        tab.runner.text_received.disconnect(arrivals.on_text)
        tab.runner.turn_ended.disconnect(arrivals.on_ended)
    answer = ctx.store.messages(conv.id)[-1]
    assert answer.outcome == "done" and len(arrivals.times) > 2, answer
    llm = ctx.local._loaded.llm  # type: ignore[union-attr]
    # The first delivery may carry several tokens: they were made before the clock starts.
    first = len(llm.tokenize(arrivals.texts[0].encode(), add_bos=False, special=False))
    tokens = answer.completion_tokens
    return (tokens - first) / (arrivals.times[-1] - arrivals.times[0]), tokens


def bare_run(ctx: AppContext) -> tuple[float, int]:
    import llama_cpp

    llm = ctx.local._loaded.llm  # type: ignore[union-attr]
    messages = [{"role": "user", "content": PROMPT}]
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    fmt = Jinja2ChatFormatter(llm.metadata["tokenizer.chat_template"], "", "")
    tokens = llm.tokenize(fmt(messages=messages).prompt.encode(), add_bos=False, special=True)
    llm.reset()
    vocab = llm._model.vocab
    n = 0
    first = 0.0
    for token in llm.generate(tokens, top_k=TOP_K, top_p=SAMPLING.top_p, min_p=MIN_P,
                              temp=SAMPLING.temperature, repeat_penalty=1.0):  # fmt: skip
        if llama_cpp.llama_vocab_is_eog(vocab, token):
            break
        n += 1
        if n == 1:
            first = time.perf_counter()
        if n >= TOKENS:
            break
    return (n - 1) / (time.perf_counter() - first), n


def main() -> None:
    app = QApplication([])
    with starter_data_dir() as data:
        ctx = AppContext.open(data)
        pool = WorkerPool()
        window = MainWindow(ctx, pool)
        window.resize(1200, 800)
        window.show()
        app.processEvents()
        try:
            window_run(ctx, window)  # load the model and warm up
            shown, bare, backend = [], [], []
            for _ in range(RUNS):
                rate, w_tokens = window_run(ctx, window)
                shown.append(rate)
                rate, b_tokens = bare_run(ctx)
                bare.append(rate)
            for _ in range(2):
                backend.append(parley_run(ctx, pool)[0])
        finally:
            window.close()
            pool.shutdown()
            ctx.close()
    ratio = median(shown) / median(bare)
    report({"bench": "local_speed", "ratio": ratio, "target": f">= {TARGET}",
            "pass": ratio >= TARGET},
           window_tps=round(median(shown), 1), bare_tps=round(median(bare), 1),
           window_runs_tps=[round(r, 1) for r in shown], bare_runs_tps=[round(r, 1) for r in bare],
           backend_only_tps=round(median(backend), 1),
           backend_only_ratio=round(median(backend) / median(bare), 4),
           tokens=w_tokens, bare_tokens=b_tokens, runs=RUNS)  # fmt: skip


if __name__ == "__main__":
    main()
