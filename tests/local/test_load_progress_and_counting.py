"""Issue 17 in the local backend (real llama.cpp, starter model): load progress, cancelling
a load, the exact count the context meter shows, and which models take images."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from app.core.chat.attachments import Attachment
from app.core.llm.contract import ChatMessage, GenerationRequest, Outcome, Sampling
from app.core.local.catalog import STARTER_NAME
from app.core.local.vision import projector_for
from tests.helpers.files import write_png

if TYPE_CHECKING:
    from pathlib import Path

    from app.core.context import AppContext


def request(text: str) -> GenerationRequest:
    return GenerationRequest((ChatMessage("user", text),),
                             Sampling(temperature=0.0, max_tokens=8), STARTER_NAME)  # fmt: skip


def drain(gen):  # type: ignore[no-untyped-def]
    while True:
        try:
            next(gen)
        except StopIteration as stop:
            return stop.value


def test_loading_reports_progress_up_to_one(ctx: AppContext) -> None:
    seen: list[tuple[str, float]] = []
    result = drain(ctx.local.stream(
        request("Hi"), threading.Event(),
        on_load_progress=lambda name, fraction: seen.append((name, fraction)),
    ))  # fmt: skip
    assert result.outcome is Outcome.DONE
    assert seen and {name for name, _ in seen} == {STARTER_NAME}
    fractions = [f for _, f in seen]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert ctx.local.is_loaded(STARTER_NAME)


def test_stop_during_the_load_aborts_it_and_loses_nothing(ctx: AppContext) -> None:
    cancel = threading.Event()
    result = drain(ctx.local.stream(
        request("Hi"), cancel,
        on_load_progress=lambda _name, fraction: cancel.set() if fraction > 0 else None,
    ))  # fmt: skip
    assert result.outcome is Outcome.STOPPED and result.text == ""
    assert ctx.local.loaded_path is None  # llama.cpp gave the half-loaded model back
    assert drain(ctx.local.stream(request("Hi"), threading.Event())).outcome is Outcome.DONE


def test_the_exact_count_is_what_the_backend_reads(ctx: AppContext) -> None:
    messages = (ChatMessage("user", "Count [INST] me </s> exactly"),)
    assert ctx.local.count_prompt(STARTER_NAME, messages) is None  # not loaded: no tokenizer
    drain(ctx.local.stream(request("Hi"), threading.Event()))
    counted = ctx.local.count_prompt(STARTER_NAME, messages)
    req = GenerationRequest(messages, Sampling(temperature=0.0, max_tokens=4), STARTER_NAME)
    assert counted == drain(ctx.local.stream(req, threading.Event())).usage.prompt_tokens
    name, size = ctx.loaded_model() or ("", 0)
    assert name == STARTER_NAME and size > 50 * 2**20  # weights + context, in bytes


def test_a_local_model_takes_images_only_with_a_projector_beside_it(
    ctx: AppContext, tmp_path: Path
) -> None:
    model = ctx.catalog.resolve(STARTER_NAME)
    assert projector_for(model.path) is None and not ctx.local.accepts_images(STARTER_NAME)
    png = write_png(tmp_path / "a.png").read_bytes()
    image = Attachment("a.png", "image", "image/png", data=png)
    conv = ctx.store.create(target=f"local:{STARTER_NAME}")
    usage = ctx.chat.context_usage(conv.id, "What is this?", ctx.default_target(), (image,))  # type: ignore[arg-type]
    assert usage.images_refused and "mmproj" in usage.images_refused
    (model.path.parent / "mmproj-SmolLM2-f16.gguf").write_bytes(b"GGUF")
    assert ctx.local.accepts_images(STARTER_NAME)
