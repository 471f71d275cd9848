"""KV-cache prefix reuse: TTFT of a 6th turn ÷ TTFT of a fresh conversation of the same
prompt length. Target ≤ 0.5."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from _common import median, report, starter_data_dir

from app.core.chat.backend import Sampling
from app.core.chat.targets import Target
from app.core.context import AppContext
from app.core.local.catalog import STARTER_NAME

if TYPE_CHECKING:
    from app.core.chat.service import TurnResult

TARGET = Target("local", STARTER_NAME)
SAMPLING = Sampling(temperature=0.0, max_tokens=48, context_length=4096)
TURN = "Here is part {i} of my notes on tide pools, anemones, crabs and algae. " * 6
RUNS = 5


def turn(ctx: AppContext, cid: int, text: str) -> TurnResult:
    gen = ctx.chat.send(cid, text, TARGET, threading.Event())
    while True:
        try:
            next(gen)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]


def one_round(ctx: AppContext) -> tuple[float, float, int, int]:
    conv = ctx.store.create(sampling=SAMPLING)
    for i in range(1, 6):
        turn(ctx, conv.id, TURN.format(i=i))
    sixth = turn(ctx, conv.id, "Now summarise everything in one sentence.")
    # A fresh conversation whose single message is as long as the 6th turn's whole prompt.
    filler = "tide pools, anemones, crabs and algae " * 400
    words = filler.split()
    fresh_conv = ctx.store.create(sampling=SAMPLING)
    target_tokens = sixth.result.usage.prompt_tokens
    lo, hi = 1, len(words)
    while lo < hi:  # the longest prefix of filler whose prompt is within the 6th turn's length
        mid = (lo + hi + 1) // 2
        count = ctx.local._tokenize(ctx.local._loaded, [_user(" ".join(words[:mid]))])  # type: ignore[arg-type]
        lo, hi = (mid, hi) if len(count) <= target_tokens else (lo, mid - 1)
    fresh = turn(ctx, fresh_conv.id, " ".join(words[:lo]))
    assert sixth.result.ttft_s and fresh.result.ttft_s
    return (sixth.result.ttft_s, fresh.result.ttft_s, sixth.result.usage.prompt_tokens,
            fresh.result.usage.prompt_tokens)  # fmt: skip


def _user(text: str):  # type: ignore[no-untyped-def]
    from app.core.chat.backend import ChatMessage

    return ChatMessage("user", text)


def main() -> None:
    with starter_data_dir() as data:
        ctx = AppContext.open(data)
        try:
            rounds = [one_round(ctx) for _ in range(RUNS)]
        finally:
            ctx.close()
    sixth = median([r[0] for r in rounds])
    fresh = median([r[1] for r in rounds])
    ratio = sixth / fresh
    report({"bench": "follow_up", "ratio": ratio, "target": "<= 0.5", "pass": ratio <= 0.5},
           sixth_turn_ttft_s=round(sixth, 4), fresh_ttft_s=round(fresh, 4),
           sixth_prompt_tokens=rounds[0][2], fresh_prompt_tokens=rounds[0][3],
           runs=RUNS)  # fmt: skip


if __name__ == "__main__":
    main()
