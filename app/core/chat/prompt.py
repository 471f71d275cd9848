"""What a model is sent for a stored conversation: one rule for chat, regenerate,
edit-and-resend, Compare and "continue with this answer".

The rule (the README's "What the model is sent" says the same):

- The system prompt, when set, goes first.
- An answer without text (it failed, or was stopped before writing anything)
  is left out, and the question it never answered is **joined to the next
  question**: turns of the same role that end up next to each other become
  one turn, their texts separated by a blank line. Nothing the user typed is
  lost, and roles always alternate user / assistant, as strict chat templates
  (Mistral's own) and providers require.
- An answer with some text (finished, stopped, cut off, interrupted) is sent
  as written.
- The turns start with the user: an answer before any question (none in
  practice) is left out.

Files attached to a user message (issue 17) are part of its turn: each text
file follows the typed text as a fenced block headed by its name
(`attachments.message_content`), images travel as the turn's `images`.

A joined turn remembers its parts (`ChatMessage.parts`, oldest first), so
fitting a long conversation into a model's context can leave out the oldest
unanswered questions before refusing the prompt (`without_oldest_parts`).

`fold_system` is the fallback for a chat template that refuses a system
message (Gemma-style templates): the system prompt becomes the head of the
first user turn.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from app.core.chat.attachments import images_of, message_content
from app.core.llm.contract import ChatMessage
from app.core.llm.messages import ASSISTANT, JOIN, SYSTEM, USER, fold_system, without_oldest_parts

if TYPE_CHECKING:
    from collections.abc import Iterable

    from app.core.llm.contract import ImageInput

__all__ = ["ASSISTANT", "JOIN", "SYSTEM", "USER", "fold_system", "prompt_messages",
           "without_oldest_parts"]


class Turn(Protocol):
    """A stored message as far as the prompt is concerned."""

    @property
    def role(self) -> str: ...

    @property
    def content(self) -> str: ...


def prompt_messages(system_prompt: str, turns: Iterable[Turn]) -> tuple[ChatMessage, ...]:
    """The messages a backend is sent: the system prompt, then alternating turns."""
    joined: list[ChatMessage] = []
    for turn in turns:
        if turn.role not in (USER, ASSISTANT) or not turn.content.strip():
            continue  # an answer without text; users can't store an empty question
        if not joined and turn.role != USER:
            continue
        attached = getattr(turn, "attachments", ())
        content = message_content(turn.content, attached)
        images = images_of(attached)
        if joined and joined[-1].role == turn.role:
            joined[-1] = _joined(joined[-1], content, images)
        else:
            joined.append(ChatMessage(turn.role, content, (content,), images))
    system = [ChatMessage(SYSTEM, system_prompt)] if system_prompt.strip() else []
    return (*system, *joined)


def _joined(
    previous: ChatMessage, content: str, images: tuple[ImageInput, ...] = ()
) -> ChatMessage:
    parts = (*previous.parts, content)
    return ChatMessage(previous.role, JOIN.join(parts), parts, (*previous.images, *images))
