"""Hugging Face Inference Providers through `huggingface_hub.InferenceClient` and the router.

The model id carries the routing policy or provider as a suffix
(`org/model:fastest`, `:cheapest`, `:preferred`, `:groq`). `InferenceClient`
does not retry 429/5xx, so this backend does, before the first token only.
"""

from __future__ import annotations

import json
import logging
import time
from typing import TYPE_CHECKING, Any

from app.core.chat.backend import GenerationRequest, GenerationResult, Outcome
from app.core.providers._common import (
    Guard,
    RetryPolicy,
    finish_result,
    retry_delay,
    scrub,
    status_error,
)
from app.core.providers._errors import (
    ConnectFailedError,
    ConnectionDroppedError,
    EmptyAnswerError,
    MalformedStreamError,
    ProviderError,
    StreamErrorEvent,
    StreamTimeoutError,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Generator, Iterable
    from threading import Event

    from app.core.providers._config import ProviderConfig
    from app.core.providers.secrets import KeyStore

logger = logging.getLogger(__name__)


def routed_model(model: str, hf_provider: str) -> str:
    """`org/model:policy`, unless the id already names its own policy or provider."""
    if ":" in model or not hf_provider:
        return model
    return f"{model}:{hf_provider}"


class HFBackend:
    def __init__(
        self, config: ProviderConfig, keys: KeyStore, is_offline: Callable[[], bool]
    ) -> None:
        self.config = config
        self.guard = Guard(config, keys, is_offline)
        self.provider = "huggingface"
        self.default_model = config.model

    @property
    def name(self) -> str:
        return self.config.name

    def prepare(self, model: str) -> None:
        self.guard.check_online()
        self.guard.key()

    def billing_model(self, model: str) -> str:
        """The id as sent to the router (with its provider or policy suffix), for pricing."""
        return routed_model(model, self.config.hf_provider)

    def stream(
        self, request: GenerationRequest, cancel: Event
    ) -> Generator[str, None, GenerationResult]:
        from huggingface_hub import InferenceClient

        started = time.monotonic()
        self.guard.check_online()
        key = self.guard.key()
        policy = RetryPolicy.of(self.config)
        model = routed_model(request.model, self.config.hf_provider)
        client = InferenceClient(
            base_url=self.config.base_url,
            api_key=key,
            timeout=self.config.option_float("read_timeout_s", 60.0),
            # A project's organisation pays (X-HF-Bill-To); only HF tokens bill through HF.
            bill_to=request.bill_to if request.bill_to and (key or "").startswith("hf_") else None,
        )
        try:
            attempt = 0
            while True:
                attempt += 1
                if cancel.is_set():
                    return self._result(request, [], Outcome.STOPPED, None, None, None, None,
                                        started, attempt)  # fmt: skip
                delay = None
                try:
                    chunks = self._open(client, request, model)
                except Exception as exc:  # noqa: BLE001 - mapped below, re-raised if unknown
                    delay = self._retry_or_raise(exc, attempt, policy, key, model)
                else:
                    return (yield from self._consume(chunks, request, cancel, started,
                                                     attempt, key))  # fmt: skip
                if cancel.wait(delay):
                    continue
        finally:
            client.close()  # type: ignore[no-untyped-call]

    # internals -------------------------------------------------------------
    def _open(self, client: Any, request: GenerationRequest, model: str) -> Iterable[Any]:
        s = request.sampling
        stream: Iterable[Any] = client.chat_completion(
            messages=[{"role": m.role, "content": m.content} for m in request.messages],
            model=model,
            stream=True,
            stream_options={"include_usage": True},
            max_tokens=s.max_tokens,
            temperature=s.temperature,
            top_p=s.top_p,
        )
        return stream

    def _retry_or_raise(
        self, exc: Exception, attempt: int, policy: RetryPolicy, key: str | None, model: str
    ) -> float:
        from huggingface_hub.errors import HfHubHTTPError

        if isinstance(exc, HfHubHTTPError) and exc.response is not None:
            resp = exc.response
            delay = retry_delay(resp.status_code, resp.headers, attempt, policy)
            if delay is not None:
                logger.info("%s: HTTP %d, retrying in %.2fs", self.name, resp.status_code, delay)
                return delay
            raise status_error(self.config, resp.status_code, scrub(_body(resp), key),
                               resp.headers, model, attempt) from exc  # fmt: skip
        raise self._map_error(exc, key, mid_answer=False) from exc

    def _consume(
        self,
        chunks: Iterable[Any],
        request: GenerationRequest,
        cancel: Event,
        started: float,
        attempt: int,
        key: str | None,
    ) -> Generator[str, None, GenerationResult]:
        parts: list[str] = []
        usage: tuple[int, int] | None = None
        model: str | None = None
        request_id: str | None = None
        ttft: float | None = None
        finished = False
        outcome = Outcome.DONE
        it = iter(chunks)
        while True:
            try:
                chunk = next(it)
            except StopIteration:
                finished = True  # the library stops on `data: [DONE]` or the end of the body
                break
            except Exception as exc:
                raise self._map_error(exc, key, mid_answer=bool(parts)) from exc
            model = chunk.model or model
            request_id = request_id or chunk.id
            if chunk.usage is not None and chunk.usage.completion_tokens is not None:
                usage = (int(chunk.usage.prompt_tokens or 0), int(chunk.usage.completion_tokens))
            for choice in chunk.choices or []:
                text = choice.delta.content if choice.delta is not None else None
                if text:
                    if ttft is None:
                        ttft = time.monotonic() - started
                    parts.append(text)
                    yield text
            if cancel.is_set():
                outcome = Outcome.STOPPED
                break
        if outcome is Outcome.DONE and finished and not parts:
            raise EmptyAnswerError(
                f"{self.config.display_name} finished without writing anything.",
                "Try again, rephrase the message, or raise the max tokens setting.",
            )
        return self._result(request, parts, outcome, usage, model, request_id, ttft, started,
                            attempt)  # fmt: skip

    def _result(
        self, request: GenerationRequest, parts: list[str], outcome: Outcome,
        usage: tuple[int, int] | None, model: str | None, request_id: str | None,
        ttft: float | None, started: float, attempt: int,
    ) -> GenerationResult:  # fmt: skip
        return finish_result(
            backend=self.name, provider=self.provider, request=request, text="".join(parts),
            outcome=outcome, usage=usage, model=model, request_id=request_id, ttft_s=ttft,
            started=started, attempts=attempt,
        )  # fmt: skip

    def _map_error(self, exc: Exception, key: str | None, *, mid_answer: bool) -> Exception:
        import httpx2
        from huggingface_hub.errors import InferenceTimeoutError, TextGenerationError

        who = self.config.display_name
        why = scrub(str(exc) or type(exc).__name__, key)
        kept = "The partial answer is kept. Use Retry to ask again."
        match exc:
            case TextGenerationError():
                return StreamErrorEvent(
                    f"{who} reported an error in the middle of the answer: {why}.",
                    "The answer so far is kept. Try again, or pick another model.",
                )
            case json.JSONDecodeError() | UnicodeDecodeError():
                return MalformedStreamError(
                    f"{who} sent a stream chunk that is not valid JSON.",
                    "The answer so far is kept. Try again.",
                )
            case httpx2.ConnectTimeout():
                return ConnectFailedError(
                    f"Couldn't reach {who} at {self.config.base_url}: connecting timed out.",
                    "Check your connection and the base URL, then try again.",
                )
            case httpx2.ConnectError():
                return ConnectFailedError(
                    f"Couldn't reach {who} at {self.config.base_url} ({why}).",
                    "Check your connection and the base URL, then try again.",
                )
            case httpx2.ReadTimeout() | InferenceTimeoutError() if mid_answer:
                return StreamTimeoutError(
                    f"{who} stopped sending in the middle of the answer (read timed out).", kept
                )
            case httpx2.ReadTimeout() | InferenceTimeoutError():
                return StreamTimeoutError(
                    f"{who} accepted the request but sent nothing in time (read timed out).",
                    "The provider may be overloaded: try again, or pick another model.",
                )
            case httpx2.TransportError() if mid_answer:
                return ConnectionDroppedError(
                    f"The connection to {who} dropped in the middle of the answer ({why}).", kept
                )
            case httpx2.TransportError():
                return ConnectionDroppedError(
                    f"The connection to {who} failed before any answer arrived ({why}).",
                    "Check your connection and try again.",
                )
            case ProviderError():
                return exc
            case _:
                return exc  # a bug: ChatService logs it and says "Something went wrong"


def _body(resp: Any) -> str:
    try:
        return str(resp.text)
    except Exception:  # noqa: BLE001 - a streamed error body may be unread or undecodable
        return ""
