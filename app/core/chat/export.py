"""Conversations as Markdown or JSON documents (for export and `conversations show`)."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from app.core.chat.conversations import ConversationStore


def conversation_to_json(store: ConversationStore, conversation_id: int) -> dict[str, Any]:
    conv = store.get(conversation_id)
    return {
        "id": conv.id,
        "title": conv.title,
        "created_at": conv.created_at,
        "updated_at": conv.updated_at,
        "system_prompt": conv.system_prompt,
        "project": conv.project,
        "messages": [m.to_dict() for m in store.messages(conversation_id)],
    }


def conversation_to_markdown(store: ConversationStore, conversation_id: int) -> str:
    conv = store.get(conversation_id)
    lines = [f"# {conv.title}", ""]
    if conv.system_prompt:
        lines += ["**System:** " + conv.system_prompt, ""]
    for m in store.messages(conversation_id):
        when = dt.datetime.fromtimestamp(m.created_at).strftime("%Y-%m-%d %H:%M")
        if m.role == "user":
            lines.append(f"## You · {when}")
        else:
            lines.append(f"## {m.model or 'Assistant'} ({m.backend}) · {when} · {m.outcome}")
        lines += ["", m.content, ""]
        if m.error:
            lines += [f"> {m.error}", ""]
    return "\n".join(lines)
