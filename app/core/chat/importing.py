"""Read conversations that Parley or other tools exported (issue 17).

Two shapes are accepted:

- Parley's own JSON export (`app.core.chat.export`, `"format": "parley-conversation"`),
  attachments included;
- OpenAI-style messages JSON, as other tools write it: a list of `{"role", "content"}`
  objects, or an object with such a `messages` list. `content` may be a string or a
  list of parts (`{"type": "text", "text": …}`, `{"type": "image_url", "image_url":
  {"url": "data:…"}}`). A `system` message becomes the system prompt; roles Parley
  doesn't hold (tool calls, function results) are skipped and counted.

Anything else raises `ImportFormatError` saying what is wrong and where (message
and field); every value is checked (types, finite numbers, timestamps in a sane
range, the same size limits as Attach, images by their own bytes) before
anything is written, and the conversation is then written in one transaction:
nothing is stored unless the whole file reads. UTF-8 (with or without a BOM)
and UTF-16 with a BOM are read.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from app.core.chat.attachments import (
    IMAGE_TOKENS_ESTIMATE,
    IMAGE_TYPES,
    MAX_FILE_BYTES,
    MAX_IMAGE_BYTES,
    MAX_TEXT_CHARS,
    Attachment,
    sniff_image,
)
from app.core.chat.conversations import Message, title_from
from app.core.chat.export import FORMAT
from app.core.foundation.errors import ParleyError
from app.core.llm.contract import Outcome, Sampling, TokenSource

if TYPE_CHECKING:
    from pathlib import Path

    from app.core.chat.conversations import Conversation, ConversationStore

HINT = (
    "Import a conversation exported from Parley (JSON), or an OpenAI-style messages list: "
    '[{"role": "user", "content": "…"}, …].'
)
FIX_HINT = "Correct that value in the file (or remove it) and import it again."
_ROLES = ("user", "assistant")
# A conversation file may hold many images and texts at Attach's limits, but not without end.
MAX_IMPORT_BYTES = 10 * MAX_FILE_BYTES
MAX_DEPTH = 32  # the deepest real export is 5 levels (messages, parts, image_url)
# Timestamps from 1970 to 2200: anything else is not a time Parley wrote or can show.
_EARLIEST, _LATEST = 0.0, 7_258_118_400.0
_MAX_COUNT = 10**12  # tokens
_MAX_SECONDS = 10**7  # ttft, duration
_OUTCOMES = frozenset(str(o) for o in Outcome)
_TOKEN_SOURCES = frozenset(str(t) for t in TokenSource)


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
    _check_depth(data)
    if isinstance(data, dict) and data.get("format") == FORMAT:
        return _parse_parley(data)
    if isinstance(data, dict) and isinstance(data.get("messages"), list):
        title = _str(data.get("title"), "the title", None)
        return _parse_openai(data["messages"], _title(title), fallback_title)
    if isinstance(data, list):
        return _parse_openai(data, "", fallback_title)
    raise ImportFormatError("This file holds no conversation Parley recognises.", HINT)


def read_json(path: Path) -> Any:
    """The JSON in `path`: UTF-8 (BOM or not) or UTF-16 with a BOM; no NaN or Infinity."""
    try:
        size = path.stat().st_size
        if size > MAX_IMPORT_BYTES:
            raise ImportFormatError(
                f"{path.name} is {size / 1e6:.0f} MB; Parley imports files of at most "
                f"{MAX_IMPORT_BYTES // 1_000_000} MB.",
                "Split the conversation, or export it without its largest attachments.",
            )
        raw = path.read_bytes()
    except OSError as exc:
        raise ParleyError(
            f"Parley can't read {path.name} ({exc.strerror or exc}).",
            "Check that the file exists and that you may read it.",
        ) from exc
    try:
        if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
            text = raw.decode("utf-16")
        else:
            text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ImportFormatError(
            f"{path.name} is not UTF-8 or UTF-16 text ({exc.reason} at byte {exc.start}).",
            "Save it as UTF-8 and import it again.",
        ) from exc
    try:
        return json.loads(text, parse_constant=_no_constant, parse_float=_finite)
    except json.JSONDecodeError as exc:
        raise ImportFormatError(f"{path.name} is not JSON ({exc}).", HINT) from exc
    except RecursionError as exc:
        raise _too_deep(f"{path.name}") from exc


def import_file(
    store: ConversationStore, path: Path, target: str, sampling: Sampling | None = None
) -> ImportResult:
    """Read `path` and store it as a new conversation on `target` (all of it, or nothing)."""
    parsed = parse_conversation(read_json(path), path.stem)
    return store_parsed(store, parsed, target, sampling)


def store_parsed(
    store: ConversationStore, parsed: ParsedConversation, target: str, sampling: Sampling | None
) -> ImportResult:
    conv = store.create_with_messages(
        parsed.title, parsed.messages, system_prompt=parsed.system_prompt, sampling=sampling,
        target=target,
    )  # fmt: skip
    return ImportResult(conv, len(parsed.messages), parsed.skipped)


# reading JSON ----------------------------------------------------------------------


def _no_constant(name: str) -> Any:
    raise ImportFormatError(
        f"The file holds the number {name}, which JSON doesn't allow and Parley can't store.",
        FIX_HINT,
    )


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ImportFormatError(f"The file holds the number {text}, too large to store.",
                                FIX_HINT)  # fmt: skip
    return value


def _too_deep(where: str) -> ImportFormatError:
    return ImportFormatError(
        f"{where} is nested more than {MAX_DEPTH} levels deep; no conversation is.", HINT
    )


def _check_depth(data: Any) -> None:
    stack: list[tuple[Any, int, str]] = [(data, 0, "the file")]
    while stack:
        value, depth, where = stack.pop()
        if depth > MAX_DEPTH:
            raise _too_deep(where)
        if isinstance(value, dict):
            stack.extend((v, depth + 1, where) for v in value.values())
        elif isinstance(value, list):
            stack.extend((v, depth + 1, where) for v in value)


# checking values -------------------------------------------------------------------


def _bad(where: str, what: str) -> ImportFormatError:
    return ImportFormatError(f"{where[0].upper()}{where[1:]} {what}.", FIX_HINT)


def _str(value: Any, where: str, limit: int | None = MAX_TEXT_CHARS) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise _bad(where, f"is {type(value).__name__}, not text")
    if limit is not None and len(value) > limit:
        raise _bad(where, f"holds {len(value):,} characters; Parley takes at most {limit:,}")
    return value


def _short(value: Any, where: str) -> str | None:
    """A name-like field: a model, a backend, a route."""
    return _str(value, where, 1000) or None


def _num(
    value: Any, where: str, low: float, high: float, span: str = ""
) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _bad(where, f"is {type(value).__name__}, not a number")
    if not (math.isfinite(value) and low <= value <= high):
        raise _bad(where, f"is {value!r}, out of range ({span or f'{low:,.0f} to {high:,.0f}'})")
    return float(value)


def _count(value: Any, where: str) -> int | None:
    number = _num(value, where, 0, _MAX_COUNT)
    return None if number is None else int(number)


def _choice(value: Any, where: str, choices: frozenset[str]) -> str | None:
    text = _short(value, where)
    if text is not None and text not in choices:
        raise _bad(where, f"is {text!r}, not one of {', '.join(sorted(choices))}")
    return text


def _title(value: str | None) -> str:
    # title_from drops bidi controls and keeps a title to one short line.
    return title_from(value) if value and value.strip() else ""


def _image(name: str, data: bytes, where: str) -> Attachment:
    """An image checked by its own bytes; its media type is what they say it is."""
    if len(data) > MAX_IMAGE_BYTES:
        raise _bad(where, f"is {len(data) / 1e6:.1f} MB; images can be at most "
                          f"{MAX_IMAGE_BYTES // 1_000_000} MB")  # fmt: skip
    mime = sniff_image(data)
    if mime is None:
        raise _bad(where, "is not a PNG, JPEG, GIF or WebP image")
    stem = name.rsplit(".", 1)[0] if "." in name else name
    suffix = next(s for s, m in IMAGE_TYPES.items() if m == mime)
    return Attachment(f"{stem}{suffix}", "image", mime, data=data, tokens=IMAGE_TOKENS_ESTIMATE)


# Parley's own format ---------------------------------------------------------------


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
        messages.append(_parley_message(item, i))
    title = _title(_str(data.get("title"), "the title", None)) or "Imported conversation"
    system = _str(data.get("system_prompt"), "the system prompt") or ""
    return ParsedConversation(title, system, tuple(messages), skipped)


def _parley_message(item: dict[str, Any], i: int) -> Message:
    at = f"message {i + 1}'s"

    def field(name: str) -> str:
        return f"{at} {name}"

    raw_attachments = item.get("attachments") or []
    if not isinstance(raw_attachments, list):
        raise _bad(field("attachments"), "is not a list")
    attachments = tuple(
        _parley_attachment(a, f"{at} attachment {n + 1}") for n, a in enumerate(raw_attachments)
    )
    outcome = _choice(item.get("outcome"), field("outcome"), _OUTCOMES)
    if outcome == Outcome.STREAMING:
        outcome = str(Outcome.INTERRUPTED)
    created = _num(item.get("created_at"), field("created_at"), _EARLIEST, _LATEST,
                   "a Unix time in seconds, from 1970 to 2200")  # fmt: skip
    return Message(
        id=0, conversation_id=0, position=i, role=str(item["role"]),
        content=_str(item.get("content"), field("content")) or "",
        created_at=time.time() if created is None else created,
        backend=_short(item.get("backend"), field("backend")),
        provider=_short(item.get("provider"), field("provider")),
        model=_short(item.get("model"), field("model")), outcome=outcome,
        error=_str(item.get("error"), field("error")),
        prompt_tokens=_count(item.get("prompt_tokens"), field("prompt_tokens")),
        completion_tokens=_count(item.get("completion_tokens"), field("completion_tokens")),
        token_source=_choice(item.get("token_source"), field("token_source"), _TOKEN_SOURCES),
        ttft_s=_num(item.get("ttft_s"), field("ttft_s"), 0, _MAX_SECONDS),
        duration_s=_num(item.get("duration_s"), field("duration_s"), 0, _MAX_SECONDS),
        attachments=attachments, route=_short(item.get("route"), field("route")),
    )  # fmt: skip


def _parley_attachment(data: Any, where: str) -> Attachment:
    if not isinstance(data, dict):
        raise _bad(where, "is not an object")
    kind = data.get("kind", "text")
    if kind not in ("text", "image"):
        raise _bad(f"{where}'s kind", f"is {kind!r}, not text or image")
    name = _short(data.get("name"), f"{where}'s name") or "attachment"
    name = title_from(name) if len(name) > 200 else name
    if kind == "image":
        return _image(name, _base64(data.get("data"), f"{where}'s data"), where)
    return Attachment(
        name=name, kind="text",
        mime=_short(data.get("mime"), f"{where}'s mime") or "text/plain",
        text=_str(data.get("text"), f"{where}'s text") or "",
        language=_short(data.get("language"), f"{where}'s language") or "",
        tokens=_count(data.get("tokens"), f"{where}'s tokens") or 0,
    )  # fmt: skip


def _base64(value: Any, where: str) -> bytes:
    text = _str(value, where, MAX_IMAGE_BYTES * 2) or ""  # then the bytes are counted
    try:
        return base64.b64decode(text, validate=True)
    except binascii.Error as exc:
        raise _bad(where, f"is not base64 ({exc})") from exc


# OpenAI-style messages -------------------------------------------------------------


def _parse_openai(raw: list[Any], title: str, fallback: str) -> ParsedConversation:
    """Messages as other tools write them; without a title, the first question names it."""
    messages: list[Message] = []
    system: list[str] = []
    skipped = 0
    now = time.time()
    for i, item in enumerate(raw):
        if not isinstance(item, dict) or not isinstance(item.get("role"), str):
            raise ImportFormatError(f"Item {i + 1} is not a message with a role.", HINT)
        role = item["role"]
        text, attachments = _openai_content(item.get("content"), i)
        if role in ("system", "developer"):
            system.append(text)
            continue
        if role not in _ROLES:
            skipped += 1
            continue
        if role == "assistant":
            attachments = ()
        model = _short(item.get("model"), f"message {i + 1}'s model")
        messages.append(Message(
            id=0, conversation_id=0, position=i, role=role, content=text, created_at=now,
            backend="imported" if role == "assistant" else None,
            model=model if role == "assistant" else None,
            outcome=str(Outcome.DONE) if role == "assistant" else None,
            attachments=attachments,
        ))  # fmt: skip
    if not messages:
        raise ImportFormatError("This file holds no user or assistant messages.", HINT)
    first_user = next((m.content for m in messages if m.role == "user"), "")
    if not title:
        title = title_from(first_user) if first_user.strip() else _title(fallback) or "Imported"
    prompt = "\n\n".join(system)
    if len(prompt) > MAX_TEXT_CHARS:
        raise _bad("the system prompt", f"holds {len(prompt):,} characters; Parley takes at "
                                         f"most {MAX_TEXT_CHARS:,}")  # fmt: skip
    return ParsedConversation(title, prompt, tuple(messages), skipped)


def _openai_content(content: Any, index: int) -> tuple[str, tuple[Attachment, ...]]:
    at = f"message {index + 1}'s content"
    if content is None or isinstance(content, str):
        return _str(content, at) or "", ()
    if not isinstance(content, list):
        raise ImportFormatError(f"Message {index + 1}'s content is neither text nor parts.",
                                HINT)  # fmt: skip
    texts: list[str] = []
    images: list[Attachment] = []
    for n, part in enumerate(content):
        if not isinstance(part, dict):
            continue
        where = f"{at}, part {n + 1}"
        if part.get("type") == "text":
            texts.append(_str(part.get("text"), where) or "")
        elif part.get("type") == "image_url":
            url = part.get("image_url")
            url = url.get("url") if isinstance(url, dict) else url
            if isinstance(url, str) and (image := _data_url_image(url, len(images), where)):
                images.append(image)
    text = "\n\n".join(texts)
    if len(text) > MAX_TEXT_CHARS:
        raise _bad(at, f"holds {len(text):,} characters; Parley takes at most "
                       f"{MAX_TEXT_CHARS:,}")  # fmt: skip
    return text, tuple(images)


def _data_url_image(url: str, n: int, where: str) -> Attachment | None:
    """An inline (data:) image; links to images elsewhere are not fetched. The media type
    the URL claims is not trusted: the bytes say what the image is."""
    if not url.startswith("data:") or ";base64," not in url[:200]:
        return None
    _, _, payload = url.partition(";base64,")
    return _image(f"image-{n + 1}", _base64(payload, where), where)
