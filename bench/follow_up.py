"""KV-cache prefix reuse: TTFT of a 6th turn ÷ TTFT of a fresh conversation of the same
prompt length. Target ≤ 0.5 (the best case: the user stayed in the conversation).

Reported beside it, as a user also lives them:
- switched: the 6th turn comes after a turn in another conversation, so llama.cpp's cache
  holds that one's prompt when the user comes back;
- trimmed: the history outgrew the model's context (set to 1,024 tokens for this part), so
  the oldest turns were left out and the prompt's start changed.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from _common import median, report, starter_data_dir

from app.core.context import AppContext
from app.core.llm.contract import Sampling
from app.core.llm.targets import Target
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


OTHER = "Some unrelated notes, part {i}, on sourdough, starters, hydration and ovens. " * 6


def fresh_ttft(ctx: AppContext, target_tokens: int) -> TurnResult:
    """A fresh conversation whose single message is as long as `target_tokens` of prompt."""
    filler = "tide pools, anemones, crabs and algae " * 400
    words = filler.split()
    fresh_conv = ctx.store.create(sampling=SAMPLING)
    lo, hi = 1, len(words)
    while lo < hi:  # the longest prefix of filler whose prompt is within the 6th turn's length
        mid = (lo + hi + 1) // 2
        count = ctx.local._tokenize(ctx.local._loaded, [_user(" ".join(words[:mid]))])  # type: ignore[arg-type]
        lo, hi = (mid, hi) if len(count) <= target_tokens else (lo, mid - 1)
    return turn(ctx, fresh_conv.id, " ".join(words[:lo]))


def one_round(ctx: AppContext, switch: bool = False) -> tuple[float, float, int, int]:
    conv = ctx.store.create(sampling=SAMPLING)
    for i in range(1, 6):
        turn(ctx, conv.id, TURN.format(i=i))
    if switch:  # the user looks at another conversation, then comes back
        other = ctx.store.create(sampling=SAMPLING)
        turn(ctx, other.id, OTHER.format(i=1))
    sixth = turn(ctx, conv.id, "Now summarise everything in one sentence.")
    fresh = fresh_ttft(ctx, sixth.result.usage.prompt_tokens)
    assert sixth.result.ttft_s and fresh.result.ttft_s
    return (sixth.result.ttft_s, fresh.result.ttft_s, sixth.result.usage.prompt_tokens,
            fresh.result.usage.prompt_tokens)  # fmt: skip


def trimmed_round(ctx: AppContext) -> tuple[float, float, int, int]:
    """A turn whose history no longer fits: the oldest turns are left out of the prompt."""
    conv = ctx.store.create(sampling=SAMPLING)
    i = 0
    while True:
        i += 1
        result = turn(ctx, conv.id, TURN.format(i=i))
        if result.result.trimmed_turns:
            break
    after = turn(ctx, conv.id, TURN.format(i=i + 1))  # trimming goes on turn after turn
    assert after.result.trimmed_turns and after.result.ttft_s
    fresh = fresh_ttft(ctx, after.result.usage.prompt_tokens)
    assert fresh.result.ttft_s
    return (after.result.ttft_s, fresh.result.ttft_s, after.result.usage.prompt_tokens,
            after.result.trimmed_turns)  # fmt: skip


def _user(text: str):  # type: ignore[no-untyped-def]
    from app.core.llm.contract import ChatMessage

    return ChatMessage("user", text)


def main() -> None:
    from app.core.local.model_controls import ModelControls

    with starter_data_dir() as data:
        ctx = AppContext.open(data)
        try:
            rounds = [one_round(ctx) for _ in range(RUNS)]
            switched = [one_round(ctx, switch=True) for _ in range(RUNS)]
            ctx.model_controls.set(STARTER_NAME, ModelControls(context_length=1024))
            trimmed = [trimmed_round(ctx) for _ in range(RUNS)]
        finally:
            ctx.close()
    sixth = median([r[0] for r in rounds])
    fresh = median([r[1] for r in rounds])
    ratio = sixth / fresh
    switched_ratio = median([r[0] / r[1] for r in switched])
    trimmed_ratio = median([r[0] / r[1] for r in trimmed])
    report({"bench": "follow_up", "ratio": ratio, "target": "<= 0.5", "pass": ratio <= 0.5},
           sixth_turn_ttft_s=round(sixth, 4), fresh_ttft_s=round(fresh, 4),
           sixth_prompt_tokens=rounds[0][2], fresh_prompt_tokens=rounds[0][3],
           after_switching_ratio=round(switched_ratio, 4),
           after_switching_ttft_s=round(median([r[0] for r in switched]), 4),
           after_trimming_ratio=round(trimmed_ratio, 4),
           after_trimming_ttft_s=round(median([r[0] for r in trimmed]), 4),
           after_trimming_prompt_tokens=trimmed[0][2], trimmed_turns=trimmed[0][3],
           runs=RUNS)  # fmt: skip


if __name__ == "__main__":
    main()
