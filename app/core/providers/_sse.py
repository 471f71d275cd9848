"""Incremental Server-Sent Events parsing for OpenAI-style chat streams.

Lines come in one at a time (`httpx.Response.iter_lines`); an event is
dispatched on the blank line that ends it. `:` lines are comments (keep-alives
from OpenRouter-style proxies) and are skipped.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from app.core.providers._errors import MalformedStreamError, StreamErrorEvent

DONE = "[DONE]"


class SSEDecoder:
    __slots__ = ("_data",)

    def __init__(self) -> None:
        self._data: list[str] = []

    def feed(self, line: str) -> str | None:
        """Take one line (without its newline); return an event's data when one completes."""
        if not line:
            return self.flush()
        if line[0] == ":":
            return None
        name, _, value = line.partition(":")
        if name == "data":
            self._data.append(value[1:] if value[:1] == " " else value)
        return None  # event:, id:, retry: carry nothing we use

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


def parse_chunk(data: str, who: str) -> Chunk:
    """One `data:` payload as a `Chunk`; raise for non-JSON data or an error object."""
    try:
        obj: Any = json.loads(data)
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
    text = ""
    finish: str | None = None
    choices = obj.get("choices")
    if isinstance(choices, list):
        for choice in choices:
            if not isinstance(choice, dict):
                continue
            delta = choice.get("delta")
            if isinstance(delta, dict) and isinstance(content := delta.get("content"), str):
                text += content
            finish = choice.get("finish_reason") or finish
    model = obj.get("model")
    chunk_id = obj.get("id")
    return Chunk(
        text=text,
        finish_reason=finish if isinstance(finish, str) else None,
        usage=_usage(obj.get("usage")),
        model=model if isinstance(model, str) and model else None,
        chunk_id=chunk_id if isinstance(chunk_id, str) and chunk_id else None,
    )


def error_text(obj: Any) -> str:
    """The human part of an error body: OpenAI {"error": {...}}, Mistral {"message": ...}."""
    if isinstance(obj, dict):
        for key in ("error", "message", "detail"):
            value = obj.get(key)
            if isinstance(value, str) and value:
                return value
            if isinstance(value, dict | list):
                inner = error_text(value)
                if inner:
                    return inner
    if isinstance(obj, list) and obj:
        return error_text(obj[0])
    return ""


def _usage(value: Any) -> tuple[int, int] | None:
    if not isinstance(value, dict):
        return None
    prompt = value.get("prompt_tokens")
    completion = value.get("completion_tokens")
    if isinstance(prompt, int) and isinstance(completion, int) and prompt + completion > 0:
        return prompt, completion
    return None


def _preview(data: str) -> str:
    data = " ".join(data.split())
    return repr(data[:60] + ("…" if len(data) > 60 else ""))
