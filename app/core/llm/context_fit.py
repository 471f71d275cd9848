"""Fit a conversation into a model's context by leaving out the oldest turns.

The system prompt and the newest user message are never dropped. When the
newest user turn joins questions that never got an answer (see
`app.core.chat.prompt`), its oldest parts go before the prompt is refused; when
the system prompt and the newest question alone do not fit, the user gets
`PromptTooLongError`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from app.core.foundation.errors import PromptTooLongError
from app.core.llm.messages import without_oldest_parts

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from app.core.llm.contract import ChatMessage

# Room kept for the answer: max_tokens, but never more than half the context.
MIN_ANSWER_FRACTION = 2


@dataclass(frozen=True, slots=True)
class FittedPrompt:
    messages: tuple[ChatMessage, ...]
    prompt_tokens: int
    trimmed_turns: int  # messages left out


def prompt_budget(context_length: int, max_tokens: int) -> int:
    return context_length - min(max_tokens, context_length // MIN_ANSWER_FRACTION)


def fit_messages(
    messages: Sequence[ChatMessage],
    count_tokens: Callable[[Sequence[ChatMessage]], int],
    context_length: int,
    max_tokens: int,
) -> FittedPrompt:
    budget = prompt_budget(context_length, max_tokens)
    system = [m for m in messages[:1] if m.role == "system"]
    turns = list(messages[len(system) :])
    tokens = count_tokens(messages)
    if tokens <= budget:
        return FittedPrompt(tuple(messages), tokens, 0)

    newest = turns[-1:]
    floor = count_tokens(system + newest)
    if floor > budget:
        return _fit_newest_parts(system, turns, count_tokens, budget, context_length, floor)
    # Binary search for the fewest oldest turns to drop (token count grows with what's kept).
    lo, hi = 1, len(turns) - 1  # drop count; dropping len-1 turns leaves only `newest`
    best = hi
    while lo <= hi:
        mid = (lo + hi) // 2
        if count_tokens(system + turns[mid:]) <= budget:
            best, hi = mid, mid - 1
        else:
            lo = mid + 1
    # Start on a user turn so the model never sees an answer without its question.
    while best < len(turns) - 1 and turns[best].role != "user":
        best += 1
    kept = system + turns[best:]
    return FittedPrompt(tuple(kept), count_tokens(kept), best)


def _fit_newest_parts(
    system: list[ChatMessage],
    turns: list[ChatMessage],
    count_tokens: Callable[[Sequence[ChatMessage]], int],
    budget: int,
    context_length: int,
    floor: int,
) -> FittedPrompt:
    """Only the newest turn is kept, and it is too long: leave out its oldest parts."""
    newest = turns[-1]
    for dropped in range(1, len(newest.parts)):
        kept = [*system, without_oldest_parts(newest, dropped)]
        tokens = count_tokens(kept)
        if tokens <= budget:
            return FittedPrompt(tuple(kept), tokens, len(turns) - 1 + dropped)
        floor = tokens
    raise PromptTooLongError(
        f"This message is about {floor:,} tokens with the system prompt, but the model's "
        f"context holds {context_length:,} tokens with {context_length - budget:,} kept "
        "for the answer.",
        "Shorten the message, or raise the context length in the conversation settings.",
    )
