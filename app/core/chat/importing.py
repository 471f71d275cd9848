"""Read conversations that Parley or other tools exported (issue 17).

Two shapes are accepted:

- Parley's own JSON export (`app.core.chat.export`, `"format": "parley-conversation"`),
  attachments included;
- OpenAI-style messages JSON, as other tools write it: a list of `{"role", "content"}`
  objects, or an object with such a `messages` list. `content` may be a string or a
  list of parts (`{"type": "text", "text": …}`, `{"type": "image_url", "image_url":
  {"url": "data:…"}}`). A `system` message becomes the system prompt; roles Parley
  doesn't hold (tool calls, function results) are skipped and counted.

Anything else raises `ImportFormatError` saying what was expected; nothing is
stored unless the whole file reads.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from app.core.chat.attachments import IMAGE_TYPES, Attachment
from app.core.chat.conversations import Message, attachment_from_dict, title_from
from app.core.chat.export import FORMAT
from app.core.foundation.errors import ParleyError
from app.core.llm.contract import Outcome, Sampling

if TYPE_CHECKING:
    from pathlib import Path

    from app.core.chat.conversations import Conversation, ConversationStore

HINT = (
    "Import a conversation exported from Parley (JSON), or an OpenAI-style messages list: "
    '[{"role": "user", "content": "…"}, …].'
)
_ROLES = ("user", "assistant")


class ImportFormatError(ParleyError):
    """The file is not a conversation Parley can read."""


@dataclass(frozen=True, slots=True)
class ParsedConversation:
    title: str
    system_prompt: str
    messages: tuple[Message, ...]
    skipped: int = 0  # messages of roles Parley doesn't hold


@dataclass(frozen=True, slots=True)
class ImportResult:
    conversation: Conversation
    messages: int
    skipped: int


def parse_conversation(
    data: Any, fallback_title: str = "Imported conversation"
) -> ParsedConversation:
    """Parley JSON or OpenAI-style messages, as messages ready to store."""
    if isinstance(data, dict) and data.get("format") == FORMAT:
        return _parse_parley(data)
    if isinstance(data, dict) and isinstance(data.get("messages"), list):
        return _parse_openai(data["messages"], str(data.get("title") or ""), fallback_title)
    if isinstance(data, list):
        return _parse_openai(data, "", fallback_title)
    raise ImportFormatError("This file holds no conversation Parley recognises.", HINT)


def import_file(
    store: ConversationStore, path: Path, target: str, sampling: Sampling | None = None
) -> ImportResult:
    """Read `path` and store it as a new conversation on `target`."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ParleyError(f"Parley can't read {path.name} ({exc.strerror or exc}).") from exc
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ImportFormatError(f"{path.name} is not JSON ({exc}).", HINT) from exc
    parsed = parse_conversation(data, path.stem)
    return store_parsed(store, parsed, target, sampling)


def store_parsed(
    store: ConversationStore, parsed: ParsedConversation, target: str, sampling: Sampling | None
) -> ImportResult:
    conv = store.create(
        parsed.title, system_prompt=parsed.system_prompt, sampling=sampling, target=target
    )
    for message in parsed.messages:
        store.append_message(conv.id, message)
    return ImportResult(store.get(conv.id), len(parsed.messages), parsed.skipped)


def _parse_parley(data: dict[str, Any]) -> ParsedConversation:
    raw = data.get("messages")
    if not isinstance(raw, list):
        raise ImportFormatError("This Parley export has no messages list.", HINT)
    messages: list[Message] = []
    skipped = 0
    for i, item in enumerate(raw):
        if not isinstance(item, dict) or item.get("role") not in _ROLES:
            skipped += 1
            continue
        try:
            attachments = tuple(attachment_from_dict(a) for a in item.get("attachments") or [])
        except (ValueError, TypeError, AttributeError) as exc:
            raise ImportFormatError(f"Message {i + 1} has a broken attachment ({exc}).",
                                    HINT) from exc  # fmt: skip
        outcome = item.get("outcome")
        if outcome == Outcome.STREAMING:
            outcome = str(Outcome.INTERRUPTED)
        messages.append(Message(
            id=0, conversation_id=0, position=i, role=str(item["role"]),
            content=_text(item.get("content")), created_at=_number(item.get("created_at")),
            backend=_opt(item.get("backend")), provider=_opt(item.get("provider")),
            model=_opt(item.get("model")), outcome=_opt(outcome), error=_opt(item.get("error")),
            prompt_tokens=_int(item.get("prompt_tokens")),
            completion_tokens=_int(item.get("completion_tokens")),
            token_source=_opt(item.get("token_source")), ttft_s=_float(item.get("ttft_s")),
            duration_s=_float(item.get("duration_s")), attachments=attachments,
            route=_opt(item.get("route")),
        ))  # fmt: skip
    title = str(data.get("title") or "Imported conversation")
    return ParsedConversation(title, _text(data.get("system_prompt")), tuple(messages), skipped)


def _parse_openai(raw: list[Any], title: str, fallback: str) -> ParsedConversation:
    """Messages as other tools write them; without a title, the first question names it."""
    messages: list[Message] = []
    system: list[str] = []
    skipped = 0
    now = time.time()
    for i, item in enumerate(raw):
        if not isinstance(item, dict) or "role" not in item:
            raise ImportFormatError(f"Item {i + 1} is not a message with a role.", HINT)
        role = str(item["role"])
        text, attachments = _openai_content(item.get("content"), i)
        if role in ("system", "developer"):
            system.append(text)
            continue
        if role not in _ROLES:
            skipped += 1
            continue
        if role == "assistant":
            attachments = ()
        messages.append(Message(
            id=0, conversation_id=0, position=i, role=role, content=text, created_at=now,
            backend="imported" if role == "assistant" else None,
            model=_opt(item.get("model")) if role == "assistant" else None,
            outcome=str(Outcome.DONE) if role == "assistant" else None,
            attachments=attachments,
        ))  # fmt: skip
    if not messages:
        raise ImportFormatError("This file holds no user or assistant messages.", HINT)
    first_user = next((m.content for m in messages if m.role == "user"), "")
    if not title:
        title = title_from(first_user) if first_user.strip() else fallback
    return ParsedConversation(title, "\n\n".join(system), tuple(messages), skipped)


def _openai_content(content: Any, index: int) -> tuple[str, tuple[Attachment, ...]]:
    if content is None or isinstance(content, str):
        return content or "", ()
    if not isinstance(content, list):
        raise ImportFormatError(f"Message {index + 1}'s content is neither text nor parts.",
                                HINT)  # fmt: skip
    texts: list[str] = []
    images: list[Attachment] = []
    for part in content:
        if not isinstance(part, dict):
            continue
        if part.get("type") == "text":
            texts.append(str(part.get("text") or ""))
        elif part.get("type") == "image_url":
            url = part.get("image_url")
            url = url.get("url") if isinstance(url, dict) else url
            if isinstance(url, str) and (image := _data_url_image(url, len(images))):
                images.append(image)
    return "\n\n".join(texts), tuple(images)


def _data_url_image(url: str, n: int) -> Attachment | None:
    """An inline (data:) image; links to images elsewhere are not fetched."""
    if not url.startswith("data:image/") or ";base64," not in url:
        return None
    mime, _, payload = url[5:].partition(";base64,")
    try:
        raw = base64.b64decode(payload, validate=True)
    except binascii.Error:
        return None
    suffix = next((s for s, m in IMAGE_TYPES.items() if m == mime), ".img")
    return Attachment(f"image-{n + 1}{suffix}", "image", mime, data=raw)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _opt(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _float(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _number(value: Any) -> float:
    return _float(value) or time.time()
