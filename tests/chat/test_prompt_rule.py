"""The one rule for what a model is sent, on stored conversations of every shape."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from app.core.chat.conversations import ConversationStore
from app.core.chat.prompt import fold_system, prompt_messages
from app.core.foundation.errors import PromptTooLongError
from app.core.llm.context_fit import fit_messages
from app.core.llm.contract import ChatMessage, GenerationResult, Outcome, TokenSource, Usage
from app.core.schema import open_database

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path


@pytest.fixture
def store(tmp_path: Path) -> ConversationStore:
    return ConversationStore(open_database(tmp_path / "c.sqlite3"))


def _turn(store: ConversationStore, cid: int, question: str, answer: str,
          outcome: Outcome = Outcome.DONE) -> None:  # fmt: skip
    store.add_user_message(cid, question)
    msg = store.start_assistant_message(cid, "local", "llama.cpp", "m")
    result = GenerationResult(answer, outcome, Usage(1, 1, TokenSource.COUNTED), "local",
                              "llama.cpp", "m", None, 0.1,
                              error="failed" if outcome is Outcome.ERROR else None)  # fmt: skip
    store.finish_assistant_message(msg.id, result)


def roles(messages: Sequence[ChatMessage]) -> list[tuple[str, str]]:
    return [(m.role, m.content) for m in messages]


def test_a_failed_answer_joins_its_question_to_the_next(store: ConversationStore) -> None:
    conv = store.create(system_prompt="Be brief.")
    _turn(store, conv.id, "one", "uno")
    _turn(store, conv.id, "two", "", Outcome.ERROR)
    _turn(store, conv.id, "three", "", Outcome.STOPPED)
    store.add_user_message(conv.id, "four")
    assert roles(store.history(conv.id)) == [
        ("system", "Be brief."), ("user", "one"), ("assistant", "uno"),
        ("user", "two\n\nthree\n\nfour"),
    ]  # fmt: skip
    assert store.history(conv.id)[-1].parts == ("two", "three", "four")


def test_a_question_refused_before_any_answer_was_started(store: ConversationStore) -> None:
    # A hard budget refuses the turn after its question is stored: no answer row at all.
    conv = store.create()
    store.add_user_message(conv.id, "refused")
    store.add_user_message(conv.id, "again")
    assert roles(store.history(conv.id)) == [("user", "refused\n\nagain")]


def test_partial_answers_are_sent_as_written(store: ConversationStore) -> None:
    conv = store.create()
    _turn(store, conv.id, "q1", "half an answ", Outcome.ERROR)
    _turn(store, conv.id, "q2", "stopped her", Outcome.STOPPED)
    store.add_user_message(conv.id, "q3")
    assert roles(store.history(conv.id)) == [
        ("user", "q1"), ("assistant", "half an answ"), ("user", "q2"),
        ("assistant", "stopped her"), ("user", "q3"),
    ]  # fmt: skip


def test_roles_always_alternate_and_start_with_the_user() -> None:
    turns = [ChatMessage("assistant", "orphan"), ChatMessage("user", "a"),
             ChatMessage("assistant", "  "), ChatMessage("assistant", "x"),
             ChatMessage("assistant", "y"), ChatMessage("user", "b")]  # fmt: skip
    sent = prompt_messages("", turns)
    assert roles(sent) == [("user", "a"), ("assistant", "x\n\ny"), ("user", "b")]


def test_fold_system_into_the_first_user_turn() -> None:
    sent = prompt_messages("Sys", [ChatMessage("user", "hi")])
    assert roles(fold_system(sent)) == [("user", "Sys\n\nhi")]
    assert fold_system(sent[1:]) == sent[1:]


def words(messages: Sequence[ChatMessage]) -> int:
    return sum(len(m.content.split()) for m in messages)


def test_fitting_leaves_out_the_oldest_unanswered_question_first() -> None:
    # A question refused as too long, then a short one: the two are joined, and the
    # long part goes so the conversation can go on.
    sent = prompt_messages("sys", [ChatMessage("user", "w " * 900),
                                   ChatMessage("user", "short question")])  # fmt: skip
    fitted = fit_messages(sent, words, context_length=512, max_tokens=64)
    assert roles(fitted.messages) == [("system", "sys"), ("user", "short question")]
    assert fitted.trimmed_turns == 1
    alone = prompt_messages("sys", [ChatMessage("user", "w " * 900)])
    with pytest.raises(PromptTooLongError):
        fit_messages(alone, words, context_length=512, max_tokens=64)
