"""Cloud streaming overhead: Parley's path ÷ a bare httpx SSE loop. Target ≤ 1.05.

Against `python -m llama_cpp.server` on 127.0.0.1 serving the starter model,
the same request (prompt, greedy sampling, max tokens) is sent alternately by
a bare `httpx` streaming loop (iter_lines + json.loads) and by Parley's whole
chat path (ChatService: store, checkpoints, ledger; OpenAI-compatible backend
on the shared client). Time to first token and total time are compared as
medians; CPU time this process spends per streamed chunk is reported in µs.

Also measured in the same run: a conversation that goes local → cloud →
local loads the local model once (`LocalBackend.loads`).
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
from _common import median, report, starter_model

from app.core.chat.backend import Sampling
from app.core.chat.targets import Target
from app.core.context import AppContext
from app.core.providers import ProviderKind
from tests.helpers.llama_server import llama_server

RUNS = 15
TOKENS = 64
# A realistic turn: a few hundred tokens of context, as a real conversation sends. Each
# run starts with its own number so llama.cpp's prompt cache can't serve it: every
# request pays for its prompt, as a cloud request does, and neither side gets a warm cache.
PROMPT = (
    "Meeting {n}. "
    + (
        "Here are my notes from this week's meeting about the lighthouse restoration project. "
        "The keeper's cottage needs a new roof before winter; the quote came in at 18,000 euros "
        "and the council will cover half if we apply before the end of the month. The lens was "
        "inspected and is in good condition, but the clockwork that turns it is seized and a "
        "specialist from the maritime museum offered to look at it in March. Volunteers have "
        "cleared the path from the harbour, and the local school wants to run a painting "
        "competition for the new visitor sign. We still need someone to handle insurance for "
        "the open day, to talk to the harbour master about parking, and to draft a short "
        "history of the light for the leaflet. "
    )
    * 2
    + "Write a short summary of these notes with a list of open tasks."
)
SAMPLING = Sampling(temperature=0.0, top_p=0.95, max_tokens=TOKENS, context_length=1024)


def bare_run(client: httpx.Client, url: str, prompt: str) -> tuple[float, float, int, float]:
    """(ttft, total, chunks, cpu seconds) for one bare streaming request."""
    body = {
        "model": "smollm2",
        "messages": [{"role": "user", "content": prompt}],
        "stream": True,
        "stream_options": {"include_usage": True},
        "max_tokens": TOKENS,
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
    with tempfile.TemporaryDirectory() as tmp, llama_server(model) as server:
        root = Path(tmp) / "data"
        (root / "models").mkdir(parents=True)
        os.link(model, root / "models" / model.name)
        ctx = AppContext.open(root)
        try:
            ctx.providers.add("bench", ProviderKind.OPENAI, base_url=server.base_url,
                              model="smollm2")  # fmt: skip
            cloud = Target("bench", "smollm2")
            bare_client = httpx.Client(timeout=60.0)
            bare: list[tuple[float, float, int, float]] = []
            ours: list[tuple[float, float, int, float]] = []
            nonce = iter(range(10_000, 20_000))

            def prompt() -> str:
                return PROMPT.format(n=next(nonce))

            bare_run(bare_client, server.base_url, prompt())  # warm-up: connections, code
            parley_run(ctx, cloud, prompt())
            for i in range(RUNS):
                # ABBA order, so a drift in the machine's load hits both sides alike.
                if i % 2 == 0:
                    bare.append(bare_run(bare_client, server.base_url, prompt()))
                    ours.append(parley_run(ctx, cloud, prompt()))
                else:
                    ours.append(parley_run(ctx, cloud, prompt()))
                    bare.append(bare_run(bare_client, server.base_url, prompt()))
            bare_client.close()
            switch = switch_check(ctx, cloud)
        finally:
            ctx.close()
    # Each Parley run is paired with the bare run next to it (ABBA), so both see the same
    # machine load; the ratio is the median of the per-pair ratios.
    ttft_ratio = median([o[0] / b[0] for o, b in zip(ours, bare, strict=True)])
    total_ratio = median([o[1] / b[1] for o, b in zip(ours, bare, strict=True)])
    ratio = max(ttft_ratio, total_ratio)
    paired = sorted(o[1] / b[1] for o, b in zip(ours, bare, strict=True))
    cpu_us = median([r[3] / max(1, r[2]) for r in ours]) * 1e6
    bare_cpu_us = median([r[3] / max(1, r[2]) for r in bare]) * 1e6
    report(
        {"bench": "cloud_overhead", "ratio": ratio, "target": "<= 1.05",
         "pass": ratio <= 1.05 and switch["switch_local_loads"] == 1.0},
        ttft_ratio=round(ttft_ratio, 4),
        total_ratio=round(total_ratio, 4),
        ttft_ms={"parley": round(median([r[0] for r in ours]) * 1e3, 1),
                 "bare": round(median([r[0] for r in bare]) * 1e3, 1)},
        total_ms={"parley": round(median([r[1] for r in ours]) * 1e3, 1),
                  "bare": round(median([r[1] for r in bare]) * 1e3, 1)},
        chunks=median([float(r[2]) for r in ours]),
        cpu_us_per_chunk={"parley": round(cpu_us, 1), "bare": round(bare_cpu_us, 1)},
        runs=RUNS,
        ratio_of_medians={
            "ttft": round(median([r[0] for r in ours]) / median([r[0] for r in bare]), 4),
            "total": round(median([r[1] for r in ours]) / median([r[1] for r in bare]), 4)},
        ttft_overhead_ms=round((median([r[0] for r in ours]) - median([r[0] for r in bare]))
                               * 1e3, 2),
        paired_total_ratio_range=[round(paired[0], 3), round(paired[-1], 3)],
        load_avg_1m=round(os.getloadavg()[0], 2),
        **switch,
    )  # fmt: skip


if __name__ == "__main__":
    main()
