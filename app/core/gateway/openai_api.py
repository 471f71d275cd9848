"""OpenAI's chat-completions wire format: parse a request; build chunks, answers and errors.

Shapes follow OpenAI's API reference for `POST /v1/chat/completions`
(https://platform.openai.com/docs/api-reference/chat): the request body, the
`chat.completion` object, `chat.completion.chunk` events on Server-Sent
Events ending with `data: [DONE]`, and error bodies
`{"error": {"message", "type", "param", "code"}}`. Fields that change what an
answer means and that Parley cannot honour (tools, n > 1, non-text content)
are refused with a 400 rather than silently ignored.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

from app.core.llm.contract import ChatMessage

ROLES = {"system": "system", "developer": "system", "user": "user", "assistant": "assistant"}
MAX_STOP_SEQUENCES = 4  # OpenAI's limit


class ApiError(Exception):
    """An error answered in OpenAI's shape, with its HTTP status and extra headers."""

    def __init__(
        self,
        status: int,
        message: str,
        kind: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.kind = kind
        self.code = code
        self.param = param
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.kind, "param": self.param,
                          "code": self.code}}  # fmt: skip


@dataclass(frozen=True, slots=True)
class CompletionRequest:
    model: str
    messages: tuple[ChatMessage, ...]
    stream: bool = False
    include_usage: bool = False
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    stop: tuple[str, ...] = field(default=())
    user: str | None = None


def _bad(message: str, param: str | None = None) -> ApiError:
    return ApiError(400, message, param=param)


def parse_request(raw: bytes) -> CompletionRequest:
    """The body of `POST /v1/chat/completions`; raise `ApiError` (400) with what is wrong."""
    try:
        body: Any = json.loads(raw)
    except ValueError:
        raise _bad("The request body is not valid JSON.") from None
    except RecursionError:  # JSON nested thousands deep: no chat request looks like that
        raise _bad("The request body is JSON nested too deeply to be a chat request.") from None
    if not isinstance(body, dict):
        raise _bad("The request body must be a JSON object.")
    model = body.get("model")
    if not isinstance(model, str) or not model.strip():
        raise _bad("'model' is required: one of the ids from GET /v1/models.", "model")
    for unsupported in ("tools", "functions"):
        if body.get(unsupported):
            raise _bad(f"'{unsupported}' is not supported by Parley's gateway yet.", unsupported)
    if body.get("n") not in (None, 1):
        raise _bad("Only one choice per request is supported ('n' must be 1).", "n")
    if body.get("logprobs"):
        raise _bad("'logprobs' is not supported.", "logprobs")
    options = body.get("stream_options")
    if options is not None and not isinstance(options, dict):
        raise _bad("'stream_options' must be an object.", "stream_options")
    return CompletionRequest(
        model=model.strip(),
        messages=_messages(body.get("messages")),
        stream=_bool(body.get("stream", False), "stream"),
        include_usage=_bool((options or {}).get("include_usage", False), "stream_options"),
        max_tokens=_max_tokens(body),
        temperature=_number(body.get("temperature"), "temperature", 0.0, 2.0),
        top_p=_number(body.get("top_p"), "top_p", 0.0, 1.0, low_open=True),
        stop=_stop(body.get("stop")),
        user=body["user"] if isinstance(body.get("user"), str) else None,
    )


def _messages(value: Any) -> tuple[ChatMessage, ...]:
    if not isinstance(value, list) or not value:
        raise _bad("'messages' must be a non-empty list.", "messages")
    out: list[ChatMessage] = []
    for i, m in enumerate(value):
        param = f"messages[{i}]"
        if not isinstance(m, dict):
            raise _bad(f"{param} must be an object.", param)
        role = ROLES.get(m.get("role"))  # type: ignore[arg-type]
        if role is None:
            raise _bad(f"{param}.role must be system, developer, user or assistant "
                       f"(tool messages are not supported).", f"{param}.role")  # fmt: skip
        if m.get("tool_calls"):
            raise _bad("Tool calls are not supported by Parley's gateway yet.", param)
        out.append(ChatMessage(role, _content(m.get("content"), param)))
    return tuple(out)


def _content(value: Any, param: str) -> str:
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if isinstance(value, list):
        texts: list[str] = []
        for part in value:
            if not isinstance(part, dict) or part.get("type") != "text":
                kind = part.get("type") if isinstance(part, dict) else type(part).__name__
                raise _bad(f"{param}.content has a '{kind}' part; only text parts are supported.",
                           f"{param}.content")  # fmt: skip
            text = part.get("text")
            if not isinstance(text, str):
                raise _bad(f"{param}.content has a text part without text.", f"{param}.content")
            texts.append(text)
        return "".join(texts)
    raise _bad(f"{param}.content must be a string or a list of text parts.", f"{param}.content")


def _bool(value: Any, param: str) -> bool:
    if not isinstance(value, bool):
        raise _bad(f"'{param}' must be true or false.", param)
    return value


def _number(value: Any, param: str, low: float, high: float, *, low_open: bool = False
            ) -> float | None:  # fmt: skip
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _bad(f"'{param}' must be a number.", param)
    if value < low or value > high or (low_open and value == low):
        raise _bad(f"'{param}' must be between {low:g} and {high:g}.", param)
    return float(value)


def _max_tokens(body: dict[str, Any]) -> int | None:
    for param in ("max_completion_tokens", "max_tokens"):
        value = body.get(param)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 131072:
            raise _bad(f"'{param}' must be a whole number from 1 to 131072.", param)
        return value
    return None


def _stop(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    stops = [value] if isinstance(value, str) else value
    if (not isinstance(stops, list) or len(stops) > MAX_STOP_SEQUENCES
            or not all(isinstance(s, str) and s for s in stops)):  # fmt: skip
        raise _bad("'stop' must be a string or a list of up to 4 non-empty strings.", "stop")
    return tuple(stops)


# answers ---------------------------------------------------------------------
def usage_body(prompt_tokens: int, completion_tokens: int) -> dict[str, int]:
    return {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens}  # fmt: skip


def completion_body(
    completion_id: str, created: int, model: str, text: str, finish_reason: str,
    usage: dict[str, int], parley: dict[str, Any],
) -> dict[str, Any]:  # fmt: skip
    return {
        "id": completion_id, "object": "chat.completion", "created": created, "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                     "logprobs": None, "finish_reason": finish_reason}],
        "usage": usage, "parley": parley,
    }  # fmt: skip


class ChunkWriter:
    """`chat.completion.chunk` events for one streamed answer, as SSE bytes."""

    __slots__ = ("_head", "_tail")

    def __init__(self, completion_id: str, created: int, model: str) -> None:
        # Each event is head + delta + tail; only the delta is encoded per chunk.
        self._head = (
            '{"id":' + json.dumps(completion_id) + ',"object":"chat.completion.chunk",'
            '"created":' + str(created) + ',"model":' + json.dumps(model) + ","
        ).encode()
        self._tail = b"}\n\n"

    def role(self) -> bytes:
        return self._event('"choices":[{"index":0,"delta":{"role":"assistant","content":""},'
                           '"logprobs":null,"finish_reason":null}]')  # fmt: skip

    def content(self, text: str) -> bytes:
        return self._event('"choices":[{"index":0,"delta":{"content":' + json.dumps(text)
                           + '},"logprobs":null,"finish_reason":null}]')  # fmt: skip

    def finish(self, reason: str) -> bytes:
        return self._event('"choices":[{"index":0,"delta":{},"logprobs":null,'
                           '"finish_reason":' + json.dumps(reason) + "}]")  # fmt: skip

    def usage(self, usage: dict[str, int], parley: dict[str, Any]) -> bytes:
        return self._event('"choices":[],"usage":' + json.dumps(usage)
                           + ',"parley":' + json.dumps(parley))  # fmt: skip

    def _event(self, body: str) -> bytes:
        return b"data: " + self._head + body.encode() + self._tail


DONE_EVENT = b"data: [DONE]\n\n"


def error_event(error: ApiError) -> bytes:
    """An error after the 200 went out: OpenAI's clients raise it from the stream."""
    return b"data: " + json.dumps(error.body()).encode() + b"\n\n"
