"""A whole turn through ChatService: stored, checkpointed, finished, billed."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

import pytest

from app.core.llm.contract import Outcome, Sampling
from app.core.llm.targets import Target
from app.core.local.catalog import STARTER_NAME
from app.core.local.model_controls import ModelControls

if TYPE_CHECKING:
    from collections.abc import Generator

    from app.core.chat.service import TurnResult
    from app.core.context import AppContext

TARGET = Target("local", STARTER_NAME)


def drain(gen: Generator[str, None, TurnResult]) -> tuple[str, TurnResult]:
    text = []
    while True:
        try:
            text.append(next(gen))
        except StopIteration as stop:
            return "".join(text), stop.value


def quick(ctx: AppContext, **kwargs: object) -> int:
    conv = ctx.store.create(sampling=Sampling(temperature=0.0, max_tokens=24))
    return conv.id


def test_a_turn_is_stored_with_its_figures_and_billed(ctx: AppContext) -> None:
    cid = quick(ctx)
    text, turn = drain(ctx.chat.send(cid, "What is 2+2?", TARGET, threading.Event()))
    messages = ctx.store.messages(cid)
    assert [m.role for m in messages] == ["user", "assistant"]
    answer = messages[1]
    assert answer.content == text == turn.result.text
    assert answer.outcome == "done"
    assert answer.backend == "local" and answer.model == STARTER_NAME
    assert answer.prompt_tokens and answer.completion_tokens and answer.ttft_s
    # The speed shown is the stored figures' own: tokens after the first over the time after
    # the first (not a wall-clock bound: a loaded CI machine runs the 135M model slowly).
    assert answer.duration_s and answer.completion_tokens > 1
    expected = (answer.completion_tokens - 1) / (answer.duration_s - answer.ttft_s)
    assert answer.tokens_per_second == pytest.approx(expected)
    [row] = ctx.ledger.rows()
    assert (row.conversation_id, row.message_id, row.outcome) == (cid, answer.id, "done")
    assert row.completion_tokens == answer.completion_tokens
    assert row.token_source == "counted"


def test_the_partial_answer_is_checkpointed_while_streaming(ctx: AppContext) -> None:
    ctx.chat.checkpoint_interval_s = 0.0
    conv = ctx.store.create(sampling=Sampling(max_tokens=200))
    gen = ctx.chat.send(conv.id, "Tell a long story.", TARGET, threading.Event())
    seen = "".join(next(gen) for _ in range(10))
    stored = ctx.store.messages(conv.id)[1]
    assert stored.outcome == "streaming"
    assert stored.content and seen.startswith(stored.content)
    gen.close()  # the consumer goes away (window closed)
    stored = ctx.store.messages(conv.id)[1]
    assert stored.outcome == "stopped"
    assert stored.content.startswith(seen[: len(stored.content)]) and stored.content


def test_stop_keeps_the_partial_answer_and_bills_it(ctx: AppContext) -> None:
    conv = ctx.store.create(sampling=Sampling(max_tokens=500))
    cancel = threading.Event()
    gen = ctx.chat.send(conv.id, "Tell a long story.", TARGET, cancel)
    first = next(gen)
    cancel.set()
    rest, turn = drain(gen)
    assert turn.result.outcome == Outcome.STOPPED
    assert ctx.store.message(turn.message_id).content == first + rest
    assert ctx.ledger.rows()[0].outcome == "stopped"


def test_regenerate_and_edit_replace_later_turns(ctx: AppContext) -> None:
    cid = quick(ctx)
    drain(ctx.chat.send(cid, "Say one word.", TARGET, threading.Event()))
    drain(ctx.chat.send(cid, "Say two words.", TARGET, threading.Event()))
    _, turn = drain(ctx.chat.regenerate(cid, TARGET, threading.Event()))
    assert [m.role for m in ctx.store.messages(cid)] == ["user", "assistant"] * 2
    assert ctx.store.messages(cid)[-1].id == turn.message_id
    first_user = ctx.store.messages(cid)[0]
    drain(ctx.chat.resend_edited(first_user.id, "Say three words.", TARGET, threading.Event()))
    assert next(m.content for m in ctx.store.messages(cid)) == "Say three words."
    assert len(ctx.store.messages(cid)) == 2
    assert len(ctx.ledger.rows()) == 4


def test_a_prompt_too_long_becomes_an_error_answer_not_a_crash(ctx: AppContext) -> None:
    conv = ctx.store.create(sampling=Sampling(max_tokens=16, context_length=512))
    ctx.model_controls.set(STARTER_NAME, ModelControls(context_length=512))  # the model's
    _, turn = drain(ctx.chat.send(conv.id, "word " * 2000, TARGET, threading.Event()))
    assert turn.result.outcome == Outcome.ERROR
    assert turn.result.error and "context" in turn.result.error
    assert ctx.store.messages(conv.id)[0].content.startswith("word")


def test_recovery_marks_and_bills_an_interrupted_answer(ctx: AppContext) -> None:
    conv = ctx.store.create()
    ctx.store.add_user_message(conv.id, "q")
    msg = ctx.store.start_assistant_message(conv.id, "local", "llama.cpp", STARTER_NAME)
    ctx.store.checkpoint(msg.id, "half an ans", 3)
    ctx.db.execute("UPDATE messages SET writer_pid = 999999999 WHERE id = ?", (msg.id,))
    [recovered] = ctx.chat.recover_interrupted()
    assert recovered.outcome == "interrupted"
    [row] = ctx.ledger.rows()
    assert (row.outcome, row.completion_tokens, row.message_id) == ("interrupted", 3, msg.id)
