"""OpenAI-compatible streaming chat (`POST {base}/chat/completions`) on the shared client.

The wire format of every kind whose row (`kinds.py`) says `Wire.OPENAI`, and through a
subclass of the Hugging Face router (`_hf.py`): same format, different defaults and
error bodies, which `status_error` reads either way. What differs between kinds is
read off the row: `stream_usage`, `ledger_provider`, `images`.

The request body is a contract per kind (tests/providers/test_contracts.py
checks each against a server as strict as the real one):

- every kind: `model`, `messages` (`role` and `content` only, roles
  alternating as `app.core.chat.prompt` builds them; a user turn with images
  has a list of `text` and `image_url` parts, with the image as a data: URL,
  issue 17), `stream: true`,
  `max_tokens`, `temperature`, `top_p`;
- OpenAI-compatible and HF (`stream_usage`): also `stream_options:
  {"include_usage": true}`, or the stream carries no usage;
- Mistral: no `stream_options`. Mistral's API answers 422 `extra_forbidden`
  for any field it does not know, and sends usage on the last chunk unasked.

A stream is complete only with a `finish_reason` or `[DONE]`; anything else
is an error that keeps the partial answer. A provider that ignores
`stream: true` and answers one `application/json` chat.completion is read as
that answer, with its usage.
"""

from __future__ import annotations

import itertools
import json
import logging
import math
import time
from typing import TYPE_CHECKING, Any

from app.core.foundation.http import shared_client
from app.core.llm.contract import (
    Backend,
    ChatMessage,
    GenerationRequest,
    GenerationResult,
    Outcome,
)
from app.core.llm.vision import model_accepts_images
from app.core.providers._cancel import Watch, closed_on_cancel
from app.core.providers._common import (
    Guard,
    RetryPolicy,
    finish_result,
    retry_delay,
    scrub,
    scrubbed,
    status_error,
)
from app.core.providers._errors import (
    ConnectFailedError,
    ConnectionDroppedError,
    EmptyAnswerError,
    MalformedStreamError,
    ProviderError,
    StreamTimeoutError,
)
from app.core.providers._limits import read_limited, sse_events
from app.core.providers._sse import (
    DONE,
    SSEDecoder,
    choices_text,
    cost_of,
    load_event,
    parse_chunk,
    parse_completion,
    usage_of,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Generator, Iterator
    from threading import Event

    import httpx

    from app.core.providers._config import ProviderConfig
    from app.core.providers.kinds import Kind
    from app.core.providers.secrets import KeyStore

logger = logging.getLogger(__name__)
MAX_MODEL_LIST = 32 << 20  # bytes; the longest real list (OpenRouter's) is about 1 MB
MAX_WHOLE_ANSWER = 8 << 20  # bytes of a non-streamed answer; max_tokens of text is far less
SETTLE_S = 0.1  # how long the body's end may take to come after [DONE]
SETTLE_READS = 4  # network reads after [DONE] before giving the connection up


def request_body(request: GenerationRequest, model: str, kind: Kind) -> dict[str, Any]:
    """The JSON body of a chat request for `kind` (the contract in the module docstring)."""
    s = request.sampling
    body: dict[str, Any] = {
        "model": model,
        "messages": [_wire_message(m) for m in request.messages],
        "stream": True,
        "max_tokens": s.max_tokens,
        "temperature": s.temperature,
        "top_p": s.top_p,
    }
    if kind.stream_usage:
        body["stream_options"] = {"include_usage": True}
    return body


def _wire_message(message: ChatMessage) -> dict[str, Any]:
    if not message.images:
        return {"role": message.role, "content": message.content}
    import base64

    parts: list[dict[str, Any]] = [{"type": "text", "text": message.content}]
    for image in message.images:
        url = f"data:{image.mime};base64,{base64.b64encode(image.data).decode('ascii')}"
        parts.append({"type": "image_url", "image_url": {"url": url}})
    return {"role": message.role, "content": parts}


def provider_label(config: ProviderConfig) -> str:
    """The `provider` column of ledger rows: who is paid for this answer."""
    from urllib.parse import urlsplit

    return config.kind.ledger_provider or urlsplit(config.base_url).netloc or config.name


class OpenAICompatBackend(Backend):
    """The OpenAI-style wire format (`/chat/completions` with SSE) for every provider kind
    that speaks it; a kind that differs overrides `wire_model` and `request_headers`."""

    def __init__(
        self,
        config: ProviderConfig,
        keys: KeyStore,
        is_offline: Callable[[], bool],
        client: Callable[[], httpx.Client] = shared_client,
    ) -> None:
        self.config = config
        self.guard = Guard(config, keys, is_offline)
        self._client = client
        self._provider = provider_label(config)
        self.default_model = config.model

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def provider(self) -> str:
        return self._provider

    def wire_model(self, model: str) -> str:
        """The model id as the provider wants it in the request body."""
        return model

    def accepts_images(self, model: str) -> bool:
        """Whether `model` reads image parts: as the kind says, else by its name
        (`app.core.llm.vision`)."""
        if self.config.kind.images is not None:
            return self.config.kind.images
        return model_accepts_images(self.wire_model(model or self.default_model))

    def prepare(self, model: str) -> None:
        """Fail before anything is stored: offline, no key, or a key that must not go there."""
        self.guard.check_online()
        self.guard.key()

    def timeout(self) -> httpx.Timeout:
        import httpx
        c = self.config
        return httpx.Timeout(
            connect=c.option_float("connect_timeout_s", 10.0),
            read=c.option_float("read_timeout_s", 60.0),
            write=30.0,
            pool=10.0,
        )

    def headers(self, key: str | None) -> dict[str, str]:
        headers = {"Accept": "text/event-stream"}
        if key:
            headers["Authorization"] = f"Bearer {key}"
        return headers

    def request_headers(self, key: str | None, request: GenerationRequest) -> dict[str, str]:
        """The headers of one chat request (kinds add their own, e.g. HF's X-HF-Bill-To)."""
        return self.headers(key)

    def list_models(self) -> list[str]:
        """Model ids from GET {base}/models; raises a `ProviderError` on failure."""
        import httpx
        self.guard.check_online()
        key = self.guard.key()
        try:
            with self._client().stream(
                "GET", f"{self.config.base_url}/models", headers=self.headers(key),
                timeout=self.timeout(),
            ) as resp:  # fmt: skip
                status, headers = resp.status_code, resp.headers
                body = read_limited(resp, MAX_MODEL_LIST)
        except httpx.HTTPError as exc:
            raise self._transport_error(exc, key, mid_answer=False) from exc
        if status != 200:
            raise status_error(self.config, status, scrub(body, key), headers, "", 1)
        try:
            data = json.loads(body).get("data", [])
            return sorted({str(m["id"]) for m in data if isinstance(m, dict) and "id" in m})
        except (ValueError, AttributeError, TypeError):
            raise ProviderError(
                f"{self.config.display_name} sent a model list Parley can't read.",
                "Type the model id in by hand.",
            ) from None

    def stream(
        self, request: GenerationRequest, cancel: Event, *,
        on_load_progress: Callable[[str, float], None] | None = None,
    ) -> Generator[str, None, GenerationResult]:  # fmt: skip
        import httpx
        started = time.monotonic()
        self.guard.check_online()
        key = self.guard.key()
        policy = RetryPolicy.of(self.config)
        url = f"{self.config.base_url}/chat/completions"
        body = request_body(request, self.wire_model(request.model), self.config.kind)
        attempt = 0
        while True:
            attempt += 1
            if cancel.is_set():
                return self._result(request, "", Outcome.STOPPED, None, None, None, None,
                                    started, attempt)  # fmt: skip
            try:
                with self._client().stream(
                    "POST", url, json=body, headers=self.request_headers(key, request),
                    timeout=self.timeout(),
                ) as resp:
                    if resp.status_code == 200:
                        try:
                            with closed_on_cancel(cancel, resp) as watch:
                                return (yield from self._consume(resp, request, cancel, started,
                                                                 attempt, key, watch))  # fmt: skip
                        except ProviderError as exc:  # an error event may quote the key
                            raise scrubbed(exc, key) from exc
                    body_text = read_limited(resp)  # an error body can be any size
                    delay = retry_delay(resp.status_code, resp.headers, attempt, policy)
                    if delay is None:
                        raise status_error(self.config, resp.status_code,
                                           scrub(body_text, key), resp.headers, request.model,
                                           attempt)  # fmt: skip
                    logger.info("%s: HTTP %d, retrying in %.2fs", self.name,
                                resp.status_code, delay)  # fmt: skip
            except httpx.HTTPError as exc:
                raise self._transport_error(exc, key, mid_answer=False) from exc
            if cancel.wait(delay):
                continue  # the loop top returns `stopped`

    # internals -------------------------------------------------------------
    def _consume(
        self,
        resp: httpx.Response,
        request: GenerationRequest,
        cancel: Event,
        started: float,
        attempt: int,
        key: str | None,
        watch: Watch,
    ) -> Generator[str, None, GenerationResult]:
        import httpx
        who = self.config.display_name
        decoder = SSEDecoder()
        parts: list[str] = []
        usage: tuple[int, int] | None = None
        cost: float | None = None
        model: str | None = None
        request_id = resp.headers.get("x-request-id") or resp.headers.get("request-id")
        ttft: float | None = None
        finished = False
        outcome = Outcome.DONE
        if _is_json(resp):
            return (yield from self._whole_answer(resp, request, cancel, started, attempt, key))
        stall_s = self.timeout().read or 60.0
        batches = sse_events(resp.iter_bytes(), decoder, cancel, who, stall_s)
        is_set = cancel.is_set
        # The per-chunk loop: one event is a JSON load and a few lookups, no objects built.
        try:
            for events in batches:
                for data in events:
                    if data == DONE:
                        finished = True
                        _settle(batches, watch)
                        break
                    obj = load_event(data, who)
                    text, finish = choices_text(obj)
                    if (raw_usage := obj.get("usage")) is not None:
                        usage = usage_of(raw_usage) or usage
                        if (reported := cost_of(raw_usage)) is not None:
                            cost = reported
                    if (name := obj.get("model")) and isinstance(name, str):
                        model = name
                    if not request_id and (cid := obj.get("id")) and isinstance(cid, str):
                        request_id = cid
                    if finish:
                        finished = True
                    if text:
                        if ttft is None:
                            ttft = time.monotonic() - started
                        parts.append(text)
                        yield text
                    if is_set():
                        outcome = Outcome.STOPPED
                        break
                else:
                    continue
                break  # [DONE] or Stop
            else:
                if is_set():  # Stop came between two chunks of one line
                    outcome = Outcome.STOPPED
                elif (tail := decoder.flush()) is not None and tail != DONE:
                    chunk = parse_chunk(tail, who)
                    usage = chunk.usage or usage
                    cost = cost if chunk.cost is None else chunk.cost
                    finished = finished or chunk.finish_reason is not None
        except httpx.HTTPError as exc:
            if not is_set():
                raise self._transport_error(exc, key, mid_answer=bool(parts)) from exc
            outcome = Outcome.STOPPED  # Stop shut the socket down under the read
        if outcome is Outcome.DONE and not finished:
            raise ConnectionDroppedError(
                f"{who} closed the connection before the answer was complete.",
                "The partial answer is kept. Use Retry to ask again." if parts
                else "Nothing arrived. Try again, or pick another model.",
            )
        if outcome is Outcome.DONE and not parts:
            raise EmptyAnswerError(
                f"{who} finished without writing anything.",
                "Try again, rephrase the message, or raise the max tokens setting.",
            )
        return self._result(request, "".join(parts), outcome, usage, model, request_id, ttft,
                            started, attempt, cost)  # fmt: skip

    def _whole_answer(
        self, resp: httpx.Response, request: GenerationRequest, cancel: Event, started: float,
        attempt: int, key: str | None,
    ) -> Generator[str, None, GenerationResult]:  # fmt: skip
        """A provider that ignored `stream: true`: one chat.completion is the answer."""
        import httpx

        body = bytearray()
        try:
            for part in resp.iter_bytes():  # a hostile body can be any size
                body += part
                if len(body) > MAX_WHOLE_ANSWER:
                    raise MalformedStreamError(
                        f"{self.config.display_name} sent an answer of more than "
                        f"{MAX_WHOLE_ANSWER >> 20} MB in one piece.",
                        "Try again; if it keeps happening, the provider or a proxy in between "
                        "is mangling the answer.",
                    )
        except httpx.HTTPError as exc:
            if cancel.is_set():
                return self._result(request, "", Outcome.STOPPED, None, None, None, None,
                                    started, attempt)  # fmt: skip
            raise self._transport_error(exc, key, mid_answer=False) from exc
        data = body.decode("utf-8", errors="replace")
        chunk = parse_completion(data, self.config.display_name)
        if not chunk.text:
            raise EmptyAnswerError(
                f"{self.config.display_name} finished without writing anything.",
                "Try again, rephrase the message, or raise the max tokens setting.",
            )
        yield chunk.text
        request_id = resp.headers.get("x-request-id") or chunk.chunk_id
        return self._result(request, chunk.text, Outcome.DONE, chunk.usage, chunk.model,
                            request_id, time.monotonic() - started, started,
                            attempt)  # fmt: skip

    def _result(
        self, request: GenerationRequest, text: str, outcome: Outcome,
        usage: tuple[int, int] | None, model: str | None, request_id: str | None,
        ttft: float | None, started: float, attempt: int, cost: float | None = None,
    ) -> GenerationResult:  # fmt: skip
        return finish_result(
            backend=self.name, provider=self.provider, request=request, text=text,
            outcome=outcome, usage=usage, model=model, request_id=request_id, ttft_s=ttft,
            started=started, attempts=attempt, reported_cost=cost,
        )  # fmt: skip

    def _transport_error(
        self, exc: httpx.HTTPError, key: str | None, *, mid_answer: bool
    ) -> ProviderError:
        import httpx
        who = self.config.display_name
        where = self.config.base_url
        why = scrub(str(exc) or type(exc).__name__, key)
        match exc:
            case httpx.ConnectTimeout():
                return ConnectFailedError(
                    f"Couldn't reach {who} at {where}: connecting timed out.",
                    "Check your connection and the base URL, then try again.",
                )
            case httpx.ConnectError():
                return ConnectFailedError(
                    f"Couldn't reach {who} at {where} ({why}).",
                    "Check your connection and the base URL, then try again.",
                )
            case httpx.ReadTimeout() if mid_answer:
                return StreamTimeoutError(
                    f"{who} stopped sending in the middle of the answer (read timed out).",
                    "The partial answer is kept. Use Retry to ask again.",
                )
            case httpx.ReadTimeout():
                return StreamTimeoutError(
                    f"{who} accepted the request but sent nothing in time (read timed out).",
                    "The provider may be overloaded: try again, or pick another model.",
                )
            case httpx.TimeoutException():
                return ConnectFailedError(
                    f"Talking to {who} timed out ({type(exc).__name__}).",
                    "Check your connection and try again.",
                )
            case _ if mid_answer:
                return ConnectionDroppedError(
                    f"The connection to {who} dropped in the middle of the answer ({why}).",
                    "The partial answer is kept. Use Retry to ask again.",
                )
            case _:
                return ConnectionDroppedError(
                    f"The connection to {who} failed before any answer arrived ({why}).",
                    "Check your connection and try again.",
                )


def _settle(batches: Iterator[list[str]], watch: Watch) -> None:
    """After [DONE]: read on to the body's end, so the connection goes back to the pool
    for the next message (a new one costs a TCP and TLS handshake: round trips before
    the next answer starts). The end nearly always came with [DONE]; a server that keeps
    the body open is cut off after SETTLE_S or SETTLE_READS reads, as before."""
    import httpx

    watch.end_by(SETTLE_S)
    try:
        for _ in itertools.islice(batches, SETTLE_READS):
            pass  # anything after [DONE] means nothing
    except (httpx.HTTPError, ProviderError):
        pass  # the answer is whole; only the connection is lost
    finally:
        watch.deadline = math.inf


def _is_json(resp: httpx.Response) -> bool:
    content_type = str(resp.headers.get("content-type", ""))
    return content_type.split(";")[0].strip().lower() == "application/json"
