"""The real llama.cpp with the starter model: streaming, stop, prefix reuse, context limits."""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

import pytest

from app.core.foundation.errors import ModelError, PromptTooLongError, UnknownTargetError
from app.core.llm.contract import ChatMessage, GenerationRequest, Outcome, Sampling, TokenSource
from app.core.local.catalog import STARTER_NAME
from app.core.local.model_controls import ModelControls

if TYPE_CHECKING:
    from pathlib import Path

    from app.core.context import AppContext
    from app.core.local.llama_backend import LocalBackend


def run(backend: LocalBackend, request: GenerationRequest, cancel: threading.Event | None = None):  # type: ignore[no-untyped-def]
    gen = backend.stream(request, cancel or threading.Event())
    deltas = []
    while True:
        try:
            deltas.append(next(gen))
        except StopIteration as stop:
            return deltas, stop.value


def ask(text: str, max_tokens: int = 32, context_length: int = 2048) -> GenerationRequest:
    return GenerationRequest(
        (ChatMessage("user", text),),
        Sampling(temperature=0.0, max_tokens=max_tokens, context_length=context_length),
        STARTER_NAME,
    )


def test_streams_deltas_that_add_up_to_the_answer(ctx: AppContext) -> None:
    deltas, result = run(ctx.local, ask("Name three colours."))
    assert result.outcome == Outcome.DONE
    assert len(deltas) > 3
    assert "".join(deltas) == result.text
    assert result.text.strip()
    assert result.usage.source == TokenSource.COUNTED
    assert result.usage.prompt_tokens > 5
    assert 0 < result.usage.completion_tokens <= 32
    assert result.ttft_s is not None and 0 < result.ttft_s < result.duration_s
    assert result.model == STARTER_NAME and result.backend == "local"


def test_max_tokens_bounds_the_answer(ctx: AppContext) -> None:
    _, result = run(ctx.local, ask("Write a long story about a dragon.", max_tokens=8))
    assert result.usage.completion_tokens == 8


def test_stop_ends_generation_within_200_ms_and_keeps_the_partial(ctx: AppContext) -> None:
    cancel = threading.Event()
    gen = ctx.local.stream(ask("Write a very long story about the sea.", max_tokens=2000), cancel)
    text = [next(gen) for _ in range(5)]
    cancel.set()
    stopped_at = time.monotonic()
    while True:
        try:
            text.append(next(gen))
        except StopIteration as stop:
            result = stop.value
            break
    assert time.monotonic() - stopped_at < 0.2
    assert result.outcome == Outcome.STOPPED
    assert result.text == "".join(text) and result.text


def test_stop_while_the_prompt_is_read_ends_within_200_ms(ctx: AppContext) -> None:
    # Reading ~1,800 prompt tokens takes seconds on a CPU: Stop must not wait for it.
    long = ask("Tell me about the moon. " * 300, max_tokens=50, context_length=4096)
    ctx.local.preload(STARTER_NAME)  # its controls' context: 4,096 tokens
    cancel = threading.Event()
    gen = ctx.local.stream(long, cancel)
    timer = threading.Timer(0.1, cancel.set)
    timer.start()
    started = time.monotonic()
    deltas, result = [], None
    while result is None:
        try:
            deltas.append(next(gen))
        except StopIteration as stop:
            result = stop.value
    waited = time.monotonic() - started - 0.1
    assert result.outcome is Outcome.STOPPED
    assert waited < 0.2, f"Stop took {waited * 1000:.0f} ms"
    # The model is still good for the next question.
    _, after = run(ctx.local, ask("Name a colour.", max_tokens=4, context_length=4096))
    assert after.outcome is Outcome.DONE and after.text.strip()


def test_same_conversation_reuses_the_loaded_model_and_kv_prefix(ctx: AppContext) -> None:
    history = [ChatMessage("user", "Tell me about the moon. " * 40)]
    sampling = Sampling(temperature=0.0, max_tokens=16, context_length=2048)
    _, first = run(ctx.local, GenerationRequest(tuple(history), sampling, STARTER_NAME))
    history += [ChatMessage("assistant", first.text), ChatMessage("user", "And the sun?")]
    _, second = run(ctx.local, GenerationRequest(tuple(history), sampling, STARTER_NAME))
    assert ctx.local.loads == 1
    assert second.usage.prompt_tokens > first.usage.prompt_tokens
    # only the new suffix is evaluated, so the follow-up starts faster
    assert second.ttft_s is not None and first.ttft_s is not None
    assert second.ttft_s < first.ttft_s


def test_long_history_is_trimmed_to_the_context(ctx: AppContext) -> None:
    messages = [ChatMessage("system", "You are terse.")]
    for i in range(30):
        messages += [ChatMessage("user", f"Fact {i}: " + "lorem ipsum " * 20),
                     ChatMessage("assistant", "Noted. " * 10)]  # fmt: skip
    messages.append(ChatMessage("user", "Summarise."))
    # A local model's context is one of its controls (issue 18), not the conversation's.
    ctx.model_controls.set(STARTER_NAME, ModelControls(context_length=1024))
    sampling = Sampling(temperature=0.0, max_tokens=16, context_length=1024)
    _, result = run(ctx.local, GenerationRequest(tuple(messages), sampling, STARTER_NAME))
    assert result.outcome == Outcome.DONE
    assert result.trimmed_turns > 0
    assert result.usage.prompt_tokens <= 1024 - 16


def test_a_message_longer_than_the_context_is_a_clear_error(ctx: AppContext) -> None:
    ctx.model_controls.set(STARTER_NAME, ModelControls(context_length=1024))
    with pytest.raises(PromptTooLongError, match="context"):
        run(ctx.local, ask("word " * 3000, max_tokens=16, context_length=1024))


def test_unknown_model_and_bad_files_are_refused_before_loading(
    ctx: AppContext, tmp_path: Path, starter_path: Path
) -> None:
    with pytest.raises(UnknownTargetError, match="no local model called"):
        ctx.local.prepare("does-not-exist")
    not_gguf = tmp_path / "photo.gguf"
    not_gguf.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 100)
    with pytest.raises(ModelError, match="not a GGUF"):
        ctx.local.prepare(str(not_gguf))
    truncated = tmp_path / "half.gguf"
    truncated.write_bytes(starter_path.read_bytes()[: 40_000_000])
    with pytest.raises(ModelError, match="truncated"):
        ctx.local.prepare(str(truncated))
