"""Chat templates as strict as the ones people download: nothing they refuse breaks a chat."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from app.core.llm.contract import Outcome
from app.core.llm.targets import Target
from app.core.local.catalog import STARTER_NAME
from tests.helpers.mistral_gguf import NO_SYSTEM_TEMPLATE, REFUSING_TEMPLATE
from tests.providers.support import send

if TYPE_CHECKING:
    from pathlib import Path

    from app.core.context import AppContext
    from tests.helpers.mistral_gguf import TinyMistral


def conversation_on(ctx: AppContext, tiny_mistral: TinyMistral, data_dir: Path, name: str,
                    template: str, system: str) -> tuple[int, Target]:  # fmt: skip
    """A short-answer conversation with a system prompt on a tiny model with `template`."""
    target = Target("local", tiny_mistral.install(data_dir / "models", name, template))
    conv = ctx.store.create(system_prompt=system, target=str(target))
    ctx.store.set_sampling(conv.id, replace(conv.sampling, max_tokens=3, context_length=1024))
    return conv.id, target


def test_a_template_that_refuses_the_system_role_gets_it_folded(
    ctx: AppContext, tiny_mistral: TinyMistral, data_dir: Path
) -> None:
    cid, target = conversation_on(ctx, tiny_mistral, data_dir, "no-system", NO_SYSTEM_TEMPLATE,
                                  "Answer in one word.")  # fmt: skip
    for text in ("First?", "Second?"):
        r = send(ctx, cid, text, target).result
        assert (r.outcome, r.error) == (Outcome.DONE, None)
        assert r.text == " ok ok ok"


def test_a_template_that_refuses_everything_names_the_model_and_quotes_it(
    ctx: AppContext, tiny_mistral: TinyMistral, data_dir: Path
) -> None:
    cid, target = conversation_on(ctx, tiny_mistral, data_dir, "tools-only", REFUSING_TEMPLATE,
                                  "Sys")  # fmt: skip
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
