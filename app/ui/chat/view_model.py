"""What the chat view shows, computed without widgets (testable without a display)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from app.core.llm.contract import Outcome
from app.core.llm.targets import Target
from app.ui.locale_format import number

if TYPE_CHECKING:
    from app.core.chat.conversations import Conversation, Message

OUTCOME_LABELS = {
    Outcome.STREAMING: "writing…",
    Outcome.DONE: "done",
    Outcome.STOPPED: "stopped",
    Outcome.ERROR: "error",
    Outcome.INTERRUPTED: "interrupted",
}


# The prompt rule (app.core.chat.prompt), where it applies.
UNANSWERED_NOTE = (
    "Nothing was written, so this question goes to the model together with your next "
    "message (Regenerate asks it again on its own)."
)


def conversation_target(conv: Conversation | None, fallback: Target | None) -> Target | None:
    if conv is not None and conv.target:
        return Target.parse(conv.target)
    return fallback


def outcome_label(outcome: str | None) -> str:
    try:
        return OUTCOME_LABELS[Outcome(outcome or Outcome.DONE)]
    except ValueError:
        return outcome or ""


def meta_line(msg: Message) -> str:
    """The line under an answer: where it came from, what it used, how it ended."""
    parts = [p for p in (msg.backend, msg.model) if p]
    if msg.outcome == Outcome.STREAMING:
        return " · ".join([*parts, outcome_label(msg.outcome)])
    prompt, completion = msg.prompt_tokens, msg.completion_tokens
    if prompt or completion:
        # Reported by the provider goes unsaid; a count or an estimate says which it is.
        counted = f" ({msg.token_source})" if msg.token_source in ("counted", "estimated") else ""
        tokens = f"{number(prompt or 0)} prompt + {number(completion or 0)} completion tokens"
        parts.append(tokens + counted)
    if msg.ttft_s is not None:
        parts.append(f"first token {msg.ttft_s:.2f} s")
    if (tps := msg.tokens_per_second) is not None:
        parts.append(f"{tps:.1f} tok/s")
    parts.append(outcome_label(msg.outcome))
    return " · ".join(parts)


def notice_text(msg: Message) -> str:
    """A sentence about anything unusual in an answer, or ''."""
    lines: list[str] = []
    if msg.trimmed_turns > 0:
        n = msg.trimmed_turns
        noun = "message was" if n == 1 else "messages were"
        lines.append(f"{n} earlier {noun} left out to fit the model's context.")
    if msg.route:
        lines.append(f"Auto sent this to {msg.backend}: {msg.route}.")
    match msg.outcome:
        case Outcome.ERROR:
            lines.append(msg.error or "The answer failed.")
        case Outcome.INTERRUPTED:
            lines.append(
                "Interrupted: Parley stopped while this answer was being written. "
                "Regenerate to get a full answer."
            )
    if msg.role == "assistant" and msg.outcome != Outcome.STREAMING and not msg.content.strip():
        lines.append(UNANSWERED_NOTE)
    return "\n".join(lines)


def attachment_line(msg: Message) -> str:
    """The files attached to a message, as one line under it."""
    if not msg.attachments:
        return ""
    names = []
    for a in msg.attachments:
        what = "image" if a.is_image else f"≈{number(a.tokens)} tokens" if a.tokens else ""
        names.append(f"{a.name} ({what})" if what else a.name)
    return "Attached: " + ", ".join(names)
