"""Chat templates as strict as the ones people download: nothing they refuse breaks a chat."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from app.core.chat.backend import Outcome
from app.core.chat.targets import Target
from app.core.local.catalog import STARTER_NAME
from tests.helpers.mistral_gguf import NO_SYSTEM_TEMPLATE, REFUSING_TEMPLATE

if TYPE_CHECKING:
    from app.core.chat.service import TurnResult
    from app.core.context import AppContext
    from tests.helpers.mistral_gguf import TinyMistral


def send(ctx: AppContext, cid: int, text: str, target: Target) -> TurnResult:
    gen = ctx.chat.send(cid, text, target, threading.Event())
    while True:
        try:
            next(gen)
        except StopIteration as stop:
            result: TurnResult = stop.value
            return result


def short(ctx: AppContext, system: str, target: Target) -> int:
    from dataclasses import replace

    conv = ctx.store.create(system_prompt=system, target=str(target))
    ctx.store.set_sampling(conv.id, replace(conv.sampling, max_tokens=3, context_length=1024))
    return conv.id


def test_a_template_that_refuses_the_system_role_gets_it_folded(
    ctx: AppContext, tiny_mistral: TinyMistral, data_dir: Any
) -> None:
    target = Target("local", tiny_mistral.install(data_dir / "models", "no-system",
                                                  NO_SYSTEM_TEMPLATE))  # fmt: skip
    cid = short(ctx, "Answer in one word.", target)
    for text in ("First?", "Second?"):
        r = send(ctx, cid, text, target).result
        assert (r.outcome, r.error) == (Outcome.DONE, None)
        assert r.text == " ok ok ok"


def test_a_template_that_refuses_everything_names_the_model_and_quotes_it(
    ctx: AppContext, tiny_mistral: TinyMistral, data_dir: Any
) -> None:
    target = Target("local", tiny_mistral.install(data_dir / "models", "tools-only",
                                                  REFUSING_TEMPLATE))  # fmt: skip
    cid = short(ctx, "Sys", target)
    r = send(ctx, cid, "Hello", target).result
    assert r.outcome is Outcome.ERROR
    assert r.error is not None
    assert "tools-only's chat template refused this conversation" in r.error
    assert "\u201cThis model only takes tool calls\u201d" in r.error
    assert "Something went wrong" not in r.error
    # The conversation stays usable: the next turn on another model answers both questions.
    starter = Target("local", STARTER_NAME)
    after = send(ctx, cid, "Hello again", starter).result
    assert after.outcome is Outcome.DONE, after.error
    assert [m.outcome for m in ctx.store.messages(cid)] == [None, "error", None, "done"]
