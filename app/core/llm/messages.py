"""Message-level rules every model source shares: the roles, how joined turns are
separated, leaving out a joined turn's oldest parts, and folding a system prompt into
the first user turn for templates that refuse one (see `app.core.chat.prompt`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from app.core.llm.contract import ChatMessage

if TYPE_CHECKING:
    from collections.abc import Sequence

JOIN = "\n\n"  # between joined turns, and between a folded system prompt and the first turn
USER, ASSISTANT, SYSTEM = "user", "assistant", "system"


def without_oldest_parts(message: ChatMessage, dropped: int) -> ChatMessage:
    """A joined turn without its `dropped` oldest parts (at least one part stays)."""
    parts = message.parts[min(dropped, len(message.parts) - 1) :]
    return ChatMessage(message.role, JOIN.join(parts), parts, message.images)


def fold_system(messages: Sequence[ChatMessage]) -> tuple[ChatMessage, ...]:
    """The system prompt moved into the head of the first user turn (for templates that
    refuse a system message). Messages without a leading system prompt come back as-is."""
    if not messages or messages[0].role != SYSTEM:
        return tuple(messages)
    system, rest = messages[0], list(messages[1:])
    if rest and rest[0].role == USER:
        first = rest[0]
        rest[0] = ChatMessage(
            USER, system.content + JOIN + first.content, first.parts, first.images
        )
    else:
        rest.insert(0, ChatMessage(USER, system.content))
    return tuple(rest)
