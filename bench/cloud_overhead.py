"""Cloud streaming overhead: Parley's own CPU cost per streamed chunk ÷ a bare httpx loop's,
against a zero-latency canned upstream. Target ≤ 1.2, and time to first token ≤ 50 ms.

The upstream (`bench/_canned.py`, its own process) answers every request at once with
CHUNKS pre-encoded SSE chunks, so nothing but the client costs time: the CPU time this
process spends per chunk is what Parley adds to every cloud answer. The bare loop is
httpx `iter_lines` + `json.loads`; Parley's path is the whole chat turn (ChatService:
store, checkpoints, ledger; the OpenAI-compatible backend on the shared client). Runs
alternate (ABBA); medians. Time to first token is Parley's absolute figure: with an
upstream that answers instantly it is Parley's own latency.

Also measured: a conversation that goes local → cloud → local loads the local model
once (`LocalBackend.loads`).
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path

import httpx
from _canned import MODEL, canned_upstream
from _common import median, report, starter_model

from app.core.context import AppContext
from app.core.llm.contract import Sampling
from app.core.llm.targets import Target
from app.core.providers import ProviderKind

RUNS = 15
CHUNKS = 400
MAX_CPU_RATIO = 1.2
MAX_TTFT_MS = 50.0
PROMPT = "Meeting {n}. Write a short summary of these notes with a list of open tasks."
SAMPLING = Sampling(temperature=0.0, top_p=0.95, max_tokens=CHUNKS + 16, context_length=4096)


def bare_run(client: httpx.Client, url: str, prompt: str) -> tuple[float, float, int, float]:
    """(ttft, total, chunks, cpu seconds) for one bare streaming request."""
    body = {
        "model": MODEL,
        "messages": [{"role": "user", "content": prompt}],
        "stream": True,
        "stream_options": {"include_usage": True},
        "max_tokens": SAMPLING.max_tokens,
        "temperature": SAMPLING.temperature,
        "top_p": SAMPLING.top_p,
    }
    cpu0, t0 = time.process_time(), time.monotonic()
    ttft = 0.0
    chunks = 0
    with client.stream("POST", f"{url}/chat/completions", json=body) as resp:
        for line in resp.iter_lines():
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            obj = json.loads(line[6:])
            for choice in obj.get("choices", []):
                if choice.get("delta", {}).get("content"):
                    chunks += 1
                    if not ttft:
                        ttft = time.monotonic() - t0
    return ttft, time.monotonic() - t0, chunks, time.process_time() - cpu0


def parley_run(ctx: AppContext, target: Target, prompt: str) -> tuple[float, float, int, float]:
    conv = ctx.store.create(target=str(target))
    ctx.store.set_sampling(conv.id, SAMPLING)
    cpu0, t0 = time.process_time(), time.monotonic()
    ttft = 0.0
    chunks = 0
    gen = ctx.chat.send(conv.id, prompt, target, threading.Event())
    while True:
        try:
            next(gen)
        except StopIteration as stop:
            result = stop.value.result
            break
        chunks += 1
        if not ttft:
            ttft = time.monotonic() - t0
    total = time.monotonic() - t0
    assert result.error is None, result.error
    return ttft, total, chunks, time.process_time() - cpu0


def switch_check(ctx: AppContext, cloud: Target) -> dict[str, float]:
    local = ctx.default_target()
    assert local is not None
    conv = ctx.store.create(target=str(local))
    ctx.store.set_sampling(conv.id, replace(SAMPLING, max_tokens=16))
    times = []
    for target in (local, cloud, local):
        t0 = time.monotonic()
        gen = ctx.chat.send(conv.id, "Hello again.", target, threading.Event())
        for _ in gen:
            pass
        times.append(time.monotonic() - t0)
    return {
        "switch_local_loads": float(ctx.local.loads),
        "switch_turn_s": [round(t, 3) for t in times],  # type: ignore[dict-item]
    }


def main() -> None:
    model = starter_model()
    with tempfile.TemporaryDirectory() as tmp, canned_upstream(CHUNKS) as base_url:
        root = Path(tmp) / "data"
        (root / "models").mkdir(parents=True)
        os.link(model, root / "models" / model.name)
        ctx = AppContext.open(root)
        try:
            ctx.providers.add("bench", ProviderKind.OPENAI, base_url=base_url, model=MODEL)
            cloud = Target("bench", MODEL)
            bare_client = httpx.Client(timeout=60.0)
            bare: list[tuple[float, float, int, float]] = []
            ours: list[tuple[float, float, int, float]] = []
            nonce = iter(range(10_000, 20_000))

            def prompt() -> str:
                return PROMPT.format(n=next(nonce))

            for _ in range(3):  # warm-up: connections, imports, code paths
                bare_run(bare_client, base_url, prompt())
                parley_run(ctx, cloud, prompt())
            for i in range(RUNS):
                # ABBA order, so a drift in the machine's load hits both sides alike.
                if i % 2 == 0:
                    bare.append(bare_run(bare_client, base_url, prompt()))
                    ours.append(parley_run(ctx, cloud, prompt()))
                else:
                    ours.append(parley_run(ctx, cloud, prompt()))
                    bare.append(bare_run(bare_client, base_url, prompt()))
            bare_client.close()
            switch = switch_check(ctx, cloud)
        finally:
            ctx.close()
    assert all(r[2] == CHUNKS for r in ours + bare), "every run must stream every chunk"
    cpu_us = median([r[3] / r[2] for r in ours]) * 1e6
    bare_cpu_us = median([r[3] / r[2] for r in bare]) * 1e6
    ratio = cpu_us / bare_cpu_us
    ttft_ms = median([r[0] for r in ours]) * 1e3
    loads_once = switch["switch_local_loads"] == 1.0
    report(
        {"bench": "cloud_overhead", "ratio": ratio, "target": f"<= {MAX_CPU_RATIO}",
         "pass": ratio <= MAX_CPU_RATIO and ttft_ms <= MAX_TTFT_MS and loads_once},
        cpu_us_per_chunk={"parley": round(cpu_us, 2), "bare": round(bare_cpu_us, 2)},
        ttft_ms={"parley": round(ttft_ms, 2), "bare": round(median([r[0] for r in bare]) * 1e3, 2),
                 "target": f"<= {MAX_TTFT_MS}"},
        total_ms={"parley": round(median([r[1] for r in ours]) * 1e3, 2),
                  "bare": round(median([r[1] for r in bare]) * 1e3, 2)},
        chunks=CHUNKS, runs=RUNS, upstream="canned, zero latency (bench/_canned.py)",
        **switch,
    )  # fmt: skip


if __name__ == "__main__":
    main()
