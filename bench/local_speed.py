"""Local generation speed: Parley's path ÷ a bare llama-cpp-python token loop. Target ≥ 0.97.

Parley's path is the whole thing a window uses: ChatService (store, checkpoints,
ledger) inside a ChatJob on the worker pool's local lane, tokens arriving on
the GUI thread as coalesced signals. The bare loop is `Llama.generate()` on the
same loaded model, prompt, sampler settings and length. Both are measured as
decode speed (tokens after the first ÷ time after the first), alternating
runs, medians.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from _common import median, report, starter_data_dir
from PySide6.QtCore import QEventLoop, QObject, QTimer, Slot
from PySide6.QtWidgets import QApplication

from app.core.chat.backend import Sampling
from app.core.chat.targets import Target
from app.core.context import AppContext
from app.core.local.catalog import STARTER_NAME
from app.core.local.llama_backend import MIN_P, TOP_K
from app.workers import ChatJob, WorkerPool

if TYPE_CHECKING:
    import threading

    from app.core.chat.service import TurnResult

TOKENS = 768
RUNS = 5
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
    QApplication([])
    with starter_data_dir() as data:
        ctx = AppContext.open(data)
        pool = WorkerPool()
        try:
            parley_run(ctx, pool)  # load the model and warm up
            parley, bare = [], []
            for _ in range(RUNS):
                rate, p_tokens = parley_run(ctx, pool)
                parley.append(rate)
                rate, b_tokens = bare_run(ctx)
                bare.append(rate)
        finally:
            pool.shutdown()
            ctx.close()
    ratio = median(parley) / median(bare)
    report({"bench": "local_speed", "ratio": ratio, "target": ">= 0.97", "pass": ratio >= 0.97},
           parley_tps=round(median(parley), 1), bare_tps=round(median(bare), 1),
           tokens=p_tokens, bare_tokens=b_tokens, runs=RUNS)  # fmt: skip


if __name__ == "__main__":
    main()
