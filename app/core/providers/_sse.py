"""Incremental Server-Sent Events parsing for OpenAI-style chat streams.

Lines come in one at a time (`httpx.Response.iter_lines`); an event is
dispatched on the blank line that ends it. `:` lines are comments (keep-alives
from OpenRouter-style proxies) and are skipped.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from app.core.providers._errors import MalformedStreamError, StreamErrorEvent

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

DONE = "[DONE]"
# The C scanner json.loads runs, called directly: a chunk is parsed once per token, and
# json.loads' own whitespace checks cost as much as the parse. Anything it can't take
# whole goes to json.loads, so what is accepted and what raises stays json.loads' rule.
_scan: Callable[[str, int], tuple[Any, int]] = json.JSONDecoder().scan_once  # type: ignore[attr-defined]


class SSEDecoder:
    __slots__ = ("_data",)

    def __init__(self) -> None:
        self._data: list[str] = []

    def feed(self, line: str) -> str | None:
        """Take one line (without its newline); return an event's data when one completes."""
        events, _ = self.feed_lines((line,))
        return events[0] if events else None

    def feed_lines(self, lines: Iterable[str]) -> tuple[list[str], bool]:
        """Take lines (without newlines): (the data of each event they complete, whether
        any was a `data` line). A network read brings many at once, so this is the
        per-line loop, kept free of per-line calls."""
        events: list[str] = []
        data = self._data
        saw_data = False
        for line in lines:
            if not line:
                if data:
                    events.append(data[0] if len(data) == 1 else "\n".join(data))
                    data.clear()
            elif line.startswith("data"):  # event:, id:, retry: and `:` comments carry nothing
                saw_data = True
                if line.startswith("data: "):
                    data.append(line[6:])
                else:
                    name, _, value = line.partition(":")
                    if name == "data":
                        data.append(value[1:] if value[:1] == " " else value)
        return events, saw_data

    def flush(self) -> str | None:
        if not self._data:
            return None
        data = "\n".join(self._data)
        self._data.clear()
        return data


@dataclass(frozen=True, slots=True)
class Chunk:
    text: str
    finish_reason: str | None
    usage: tuple[int, int] | None  # (prompt, completion) when the chunk reports it
    model: str | None
    chunk_id: str | None
    cost: float | None = None  # `usage.cost` in USD, as OpenRouter reports it


def parse_chunk(data: str, who: str) -> Chunk:
    """One `data:` payload as a `Chunk`; raise for non-JSON data or an error object."""
    obj = load_event(data, who)
    text, finish = choices_text(obj)
    model = obj.get("model")
    chunk_id = obj.get("id")
    return Chunk(
        text=text,
        finish_reason=finish,
        usage=usage_of(obj.get("usage")),
        model=model if isinstance(model, str) and model else None,
        chunk_id=chunk_id if isinstance(chunk_id, str) and chunk_id else None,
        cost=cost_of(obj.get("usage")),
    )


def load_event(data: str, who: str) -> dict[str, Any]:
    """One `data:` payload as its JSON object; raise for non-JSON data or an error object."""
    try:
        try:
            obj, end = _scan(data, 0)
        except StopIteration:  # not JSON, or whitespace first: json.loads says which
            end = -1
        if end != len(data):
            obj = json.loads(data)
    except (ValueError, RecursionError):  # RecursionError: JSON nested thousands deep
        raise MalformedStreamError(
            f"{who} sent a stream chunk that is not valid JSON ({_preview(data)}).",
            "The answer so far is kept. Try again; if it keeps happening, the provider or "
            "a proxy in between is mangling the stream.",
        ) from None
    if not isinstance(obj, dict):
        raise MalformedStreamError(
            f"{who} sent a stream chunk that is not a JSON object ({_preview(data)}).",
            "The answer so far is kept. Try again.",
        )
    if "error" in obj or obj.get("object") == "error":
        raise StreamErrorEvent(
            f"{who} reported an error in the middle of the answer: {error_text(obj)}.",
            "The answer so far is kept. Try again, or pick another model.",
        )
    return obj


def choices_text(obj: dict[str, Any]) -> tuple[str, str | None]:
    """(the text of a chunk's `choices[].delta.content`, its finish_reason or None)."""
    choices = obj.get("choices")
    if not isinstance(choices, list):
        return "", None
    if len(choices) == 1 and isinstance(choice := choices[0], dict):  # every real stream
        delta = choice.get("delta")
        content = delta.get("content") if isinstance(delta, dict) else None
        reason = choice.get("finish_reason")
        return (content if isinstance(content, str) else "",
                reason if reason and isinstance(reason, str) else None)  # fmt: skip
    text = ""
    finish: Any = None
    for choice in choices:
        if not isinstance(choice, dict):
            continue
        delta = choice.get("delta")
        if isinstance(delta, dict) and isinstance(content := delta.get("content"), str):
            text += content
        finish = choice.get("finish_reason") or finish
    return text, finish if isinstance(finish, str) else None


def parse_completion(data: str, who: str) -> Chunk:
    """A whole `chat.completion` (a provider that ignored `stream: true`) as one `Chunk`."""
    chunk = parse_chunk(data, who)
    obj: Any = json.loads(data)  # parse_chunk checked it is a JSON object
    choices = obj.get("choices")
    text = ""
    for choice in choices if isinstance(choices, list) else []:
        message = choice.get("message") if isinstance(choice, dict) else None
        if isinstance(message, dict) and isinstance(content := message.get("content"), str):
            text += content
    if chunk.text or not text:
        return chunk
    return Chunk(text, chunk.finish_reason or "stop", chunk.usage, chunk.model, chunk.chunk_id)


def error_text(obj: Any) -> str:
    """The human part of an error body, on one line.

    Shapes read: OpenAI `{"error": {"message": ...}}`, Hugging Face `{"error": "..."}`,
    Mistral `{"object": "error", "message": "..."}` or, for a refused field,
    `{"message": {"detail": [{"loc": ["body", "stream_options"], "msg": "Extra inputs are
    not permitted", ...}]}}` (FastAPI/pydantic validation errors), read as
    "stream_options: Extra inputs are not permitted".
    """
    match obj:
        case str():
            return " ".join(obj.split())
        case list():
            return "; ".join(text for text in map(error_text, obj) if text)
        case {"msg": str(msg), **rest}:
            loc = rest.get("loc")
            where = ".".join(str(p) for p in loc if p != "body") if isinstance(loc, list) else ""
            return f"{where}: {msg}" if where else msg
        case dict():
            for key in ("error", "message", "detail"):
                if text := error_text(obj.get(key)):
                    return text
    return ""


def usage_of(value: Any) -> tuple[int, int] | None:
    if not isinstance(value, dict):
        return None
    prompt = value.get("prompt_tokens")
    completion = value.get("completion_tokens")
    if isinstance(prompt, int) and isinstance(completion, int) and prompt + completion > 0:
        return prompt, completion
    return None


def cost_of(value: Any) -> float | None:
    if not isinstance(value, dict):
        return None
    cost = value.get("cost")
    if isinstance(cost, bool) or not isinstance(cost, int | float):
        return None
    return float(cost) if 0 <= cost < 1e6 else None  # a broken figure never bills


def _preview(data: str) -> str:
    data = " ".join(data.split())
    return repr(data[:60] + ("…" if len(data) > 60 else ""))
