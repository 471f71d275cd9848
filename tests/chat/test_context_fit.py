from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from app.core.foundation.errors import PromptTooLongError
from app.core.llm.context_fit import fit_messages
from app.core.llm.contract import ChatMessage

if TYPE_CHECKING:
    from collections.abc import Sequence


def words(messages: Sequence[ChatMessage]) -> int:
    return sum(len(m.content.split()) + 1 for m in messages)


def convo(turns: int, size: int) -> list[ChatMessage]:
    out = [ChatMessage("system", "sys")]
    for i in range(turns):
        out.append(ChatMessage("user", f"q{i} " + "w " * size))
        out.append(ChatMessage("assistant", f"a{i} " + "w " * size))
    out.append(ChatMessage("user", "newest question"))
    return out


def test_everything_is_sent_when_it_fits() -> None:
    messages = convo(3, 10)
    fitted = fit_messages(messages, words, context_length=1000, max_tokens=100)
    assert fitted.messages == tuple(messages)
    assert fitted.trimmed_turns == 0


def test_oldest_turns_go_first_keeping_system_and_newest() -> None:
    messages = convo(20, 50)  # ~2,100 "tokens"
    fitted = fit_messages(messages, words, context_length=1000, max_tokens=200)
    kept = fitted.messages
    assert kept[0] == messages[0]
    assert kept[-1] == messages[-1]
    assert kept[1].role == "user"  # never starts on an orphaned answer
    assert fitted.prompt_tokens <= 800
    assert fitted.trimmed_turns > 0
    assert list(kept[1:]) == messages[len(messages) - len(kept) + 1 :]
    # as much history as fits: adding back one more turn would overflow
    bigger = [messages[0], *messages[len(messages) - len(kept) - 1 :]]
    assert words(bigger) > 800


def test_a_single_message_too_long_for_the_context_is_an_error() -> None:
    messages = [ChatMessage("system", "sys"), ChatMessage("user", "w " * 5000)]
    with pytest.raises(PromptTooLongError, match="Shorten the message"):
        fit_messages(messages, words, context_length=2048, max_tokens=256)

