"""Coming back to a conversation after another one: its KV cache comes back, not a re-read."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from app.core.llm.contract import ChatMessage, GenerationRequest, Sampling
from app.core.local.catalog import STARTER_NAME

if TYPE_CHECKING:
    from app.core.context import AppContext
    from app.core.llm.contract import GenerationResult
    from app.core.local.llama_backend import LocalBackend

SAMPLING = Sampling(temperature=0.0, max_tokens=12)
MOON = [ChatMessage("user", "Tell me about the moon and its tides. " * 40)]
BREAD = [ChatMessage("user", "Notes on sourdough starters, hydration and ovens. " * 40)]


def run(backend: LocalBackend, messages: list[ChatMessage]) -> GenerationResult:
    gen = backend.stream(GenerationRequest(tuple(messages), SAMPLING, STARTER_NAME),
                         threading.Event())  # fmt: skip
    while True:
        try:
            next(gen)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]


def test_switching_back_restores_the_conversations_cache_and_answers_the_same(
    ctx: AppContext,
) -> None:
    first = run(ctx.local, MOON)
    run(ctx.local, BREAD)  # another conversation takes the cache
    follow_up = [*MOON, ChatMessage("assistant", first.text), ChatMessage("user", "And tides?")]
    back = run(ctx.local, follow_up)
    loaded = ctx.local._loaded
    assert loaded is not None and loaded.stash.restores == 1
    assert 0 < loaded.stash.size <= loaded.stash.capacity
    # The same answer as reading the whole prompt afresh (greedy decoding).
    ctx.local.unload()
    fresh = run(ctx.local, follow_up)
    assert back.text == fresh.text and back.usage == fresh.usage
    assert ctx.local._loaded is not None and ctx.local._loaded.stash.restores == 0


def test_short_prompts_are_not_stashed(ctx: AppContext) -> None:
    run(ctx.local, [ChatMessage("user", "Hi")])
    run(ctx.local, [ChatMessage("user", "Hello there")])
    assert ctx.local._loaded is not None and ctx.local._loaded.stash.size == 0
