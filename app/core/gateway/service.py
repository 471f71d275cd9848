"""The gateway's core, without HTTP: resolve a model id, check budgets, generate, bill.

`Gateway.open()` does every check that must answer before a response starts
(model id, provider set-up, hard budgets, the local queue) and returns an
`Exchange`; `Exchange.run()` generates on the calling thread, hands each text
delta to `emit`, and writes the ledger row whatever happens. Backends and the
ledger are the chat's own: the gateway re-implements neither.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from app.core.chat.backend import (
    ChatMessage,
    GenerationRequest,
    GenerationResult,
    Outcome,
    RequestContext,
    Sampling,
)
from app.core.chat.metering import check_budgets, spent_result
from app.core.chat.prompt import JOIN, SYSTEM, USER, prompt_messages
from app.core.chat.sampling_defaults import default_sampling
from app.core.chat.targets import LOCAL, Target
from app.core.foundation.errors import ParleyError
from app.core.gateway.errors import api_error
from app.core.gateway.local_lane import LocalLane
from app.core.gateway.openai_api import ApiError
from app.core.gateway.stop_sequences import StopMatcher
from app.core.routing.router import AUTO

if TYPE_CHECKING:
    from collections.abc import Callable, Generator
    from threading import Event

    from app.core.billing.ledger import Ledger
    from app.core.chat.backend import Backend
    from app.core.chat.service import BackendRegistry
    from app.core.gateway.openai_api import CompletionRequest
    from app.core.local.catalog import ModelCatalog
    from app.core.providers._config import ProviderStore

logger = logging.getLogger(__name__)

GATEWAY_TAG = "gateway"
RECENT = 50  # requests the window's list keeps


@dataclass(frozen=True, slots=True)
class Caller:
    """Who sent a request: the client's name and the project it bills to."""

    client: str | None
    project: str | None


@dataclass(frozen=True, slots=True)
class Served:
    """One finished request, for the window's list of the latest ones."""

    at: float
    client: str | None
    model: str
    status: int
    outcome: str
    prompt_tokens: int
    completion_tokens: int
    cost: float | None
    currency: str | None
    route: str | None
    duration_s: float


@dataclass(frozen=True, slots=True)
class Finished:
    result: GenerationResult
    finish_reason: str  # "stop" | "length"
    usage_id: int
    cost: float | None
    currency: str | None


class MidStreamError(Exception):
    """The answer failed after text went out; `error` is what the client is told."""

    def __init__(self, error: ApiError) -> None:
        super().__init__(error.message)
        self.error = error


class ServedLog:
    """Requests served since start and the latest ones; `listeners` hear of each."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._recent: deque[Served] = deque(maxlen=RECENT)
        self.count = 0
        self.listeners: list[Callable[[Served], None]] = []

    def add(self, served: Served) -> None:
        with self._lock:
            self.count += 1
            self._recent.appendleft(served)
            listeners = list(self.listeners)
        for listener in listeners:
            listener(served)

    def recent(self) -> list[Served]:
        with self._lock:
            return list(self._recent)


class Gateway:
    def __init__(
        self,
        *,
        registry: Callable[[], BackendRegistry],
        ledger: Callable[[], Ledger],
        catalog: ModelCatalog,
        providers: ProviderStore,
        is_offline: Callable[[], bool],
        local_n_ctx: Callable[[str], int | None],
        lane: LocalLane | None = None,
    ) -> None:
        self._registry = registry
        self._ledger = ledger
        self.catalog = catalog
        self.providers = providers
        self.is_offline = is_offline
        self._local_n_ctx = local_n_ctx
        self.lane = lane or LocalLane()
        self.served = ServedLog()

    # models ----------------------------------------------------------------
    def model_ids(self) -> list[tuple[str, str]]:
        """(id, owner) for GET /v1/models: `auto`, `local/<name>`, `<provider>/<model>`."""
        from app.core.providers._wiring import provider_options

        ids = [(AUTO, "parley")]
        ids += [(f"{LOCAL}/{m.name}", "local") for m in self.catalog.list()]
        ids += [(f"{o.target.backend}/{o.target.model}", o.target.backend)
                for o in provider_options(self.providers, self.is_offline()) if o.available]
        return ids

    def resolve(self, model_id: str) -> Target:
        """A model id to a target; raise `ApiError` 404 naming what exists."""
        if model_id == AUTO:
            return Target(AUTO, "")
        backend, sep, model = model_id.partition("/")
        if sep and model and (backend == LOCAL or self.providers.find(backend) is not None):
            return Target(backend, model)
        known = ", ".join(i for i, _ in self.model_ids()[:8])
        raise ApiError(
            404, f"There is no model '{model_id}' here. Ids look like 'local/<name>', "
            f"'<provider>/<model>' or 'auto'; GET /v1/models lists them (e.g. {known}).",
            code="model_not_found", param="model",
        )  # fmt: skip

    # requests --------------------------------------------------------------
    def open(
        self, req: CompletionRequest, caller: Caller, cancel: Event | None = None
    ) -> Exchange:
        """Every check that answers before the response starts; raise `ApiError`.

        `cancel` is the flag the server sets when the client goes away.
        """
        target = self.resolve(req.model)
        request = GenerationRequest(_alternating(req.messages), self._sampling(target, req),
                                    target.model)  # fmt: skip
        try:
            backend = self._registry().get(target.backend)
            if target.backend != AUTO:
                if (prepare := getattr(backend, "prepare", None)) is not None:
                    prepare(target.model)
                check_budgets(
                    self._ledger(), backend, target, request.messages,
                    request.sampling.max_tokens, project=caller.project, conversation_id=None,
                )
        except ParleyError as exc:
            raise api_error(exc) from exc
        if target.backend == LOCAL:
            self.lane.enter()
        return Exchange(self, backend, target, request, caller, req.stop, cancel)

    def _sampling(self, target: Target, req: CompletionRequest) -> Sampling:
        base = default_sampling(target.model)
        context = Sampling().context_length
        if target.backend == LOCAL:
            context = self._local_n_ctx(target.model) or context
        return replace(
            base,
            temperature=base.temperature if req.temperature is None else req.temperature,
            top_p=base.top_p if req.top_p is None else req.top_p,
            max_tokens=req.max_tokens or base.max_tokens,
            context_length=context,
        )

    def record(
        self, exchange: Exchange, result: GenerationResult
    ) -> tuple[int, float | None, str | None]:
        """Write the ledger row; (its id, its cost, its currency)."""
        ledger = self._ledger()
        usage_id = ledger.record(result, conversation_id=None, message_id=None,
                                 project=exchange.caller.project, tag=GATEWAY_TAG,
                                 client=exchange.caller.client)  # fmt: skip
        row = ledger.get(usage_id)
        return usage_id, (row.cost if row else None), (row.currency if row else None)


def _alternating(messages: tuple[ChatMessage, ...]) -> tuple[ChatMessage, ...]:
    """The chat's own prompt rule for what a client sent: system messages joined into one
    leading system prompt, turns of the same role next to each other joined, empty ones
    left out, so strict chat templates and providers accept it. Raise 400 without a question.
    """
    system = JOIN.join(m.content for m in messages if m.role == SYSTEM and m.content.strip())
    out = prompt_messages(system, [m for m in messages if m.role != SYSTEM])
    if not any(m.role == USER for m in out):
        raise ApiError(400, "'messages' needs at least one user message with text.",
                       param="messages")  # fmt: skip
    return out


class Exchange:
    """One request between `Gateway.open` and its ledger row."""

    def __init__(
        self, gateway: Gateway, backend: Backend, target: Target, request: GenerationRequest,
        caller: Caller, stops: tuple[str, ...], cancel: Event | None = None,
    ) -> None:  # fmt: skip
        self.gateway = gateway
        self.backend = backend
        self.target = target
        self.request = request
        self.caller = caller
        self.stops = stops
        self.cancel = cancel or threading.Event()  # set on client disconnect

    @property
    def is_local(self) -> bool:
        return self.target.backend == LOCAL

    def abandon(self) -> None:
        """The response never started (the client left first): give up the queue place."""
        if self.is_local:
            self.gateway.lane.leave_queue()

    def run(self, emit: Callable[[str], None]) -> Finished:
        """Generate, calling `emit(text)`; raise `ApiError` before any text, `MidStreamError`
        after. The ledger row is written either way (not for a request that never started)."""
        started = time.monotonic()
        lane = self.gateway.lane
        if self.is_local and not lane.acquire(self.cancel):
            return self._finish(self._spent([], started, None))
        try:
            return self._generate(emit, started)
        finally:
            if self.is_local:
                lane.release(time.monotonic() - started)

    def _generate(self, emit: Callable[[str], None], started: float) -> Finished:
        parts: list[str] = []
        matcher = StopMatcher(self.stops)
        stream = self._stream()
        try:
            while True:
                try:
                    delta = next(stream)
                except StopIteration as stop:
                    result: GenerationResult = stop.value
                    break
                if text := matcher.feed(delta):
                    parts.append(text)
                    emit(text)
                if matcher.stopped:
                    self.cancel.set()  # the backend stops after this token
            if tail := matcher.flush():
                parts.append(tail)
                emit(tail)
        except ParleyError as exc:
            self._finish(self._spent(parts, started, str(exc)))
            raise (MidStreamError(api_error(exc)) if parts else api_error(exc)) from exc
        except Exception:
            logger.exception("gateway generation failed")
            self._finish(self._spent(parts, started, "Something went wrong in Parley."))
            raise
        if matcher.stopped:
            result = replace(result, outcome=Outcome.DONE)
        return self._finish(result)

    def _stream(self) -> Generator[str, None, GenerationResult]:
        if self.target.backend == AUTO:
            stream_routed = getattr(self.backend, "stream_routed")  # noqa: B009 - AutoBackend
            return stream_routed(  # type: ignore[no-any-return]
                self.request, self.cancel, RequestContext(project=self.caller.project)
            )
        return self.backend.stream(self.request, self.cancel)

    def _finish(self, result: GenerationResult) -> Finished:
        usage_id, cost, currency = self.gateway.record(self, result)
        hit_limit = result.usage.completion_tokens >= self.request.sampling.max_tokens
        finish = "length" if hit_limit and result.outcome is Outcome.DONE else "stop"
        self.gateway.served.add(Served(
            at=time.time(), client=self.caller.client, model=f"{result.backend}/{result.model}",
            status=200 if result.outcome is not Outcome.ERROR else 502,
            outcome=str(result.outcome), prompt_tokens=result.usage.prompt_tokens,
            completion_tokens=result.usage.completion_tokens, cost=cost, currency=currency,
            route=result.route, duration_s=result.duration_s,
        ))  # fmt: skip
        return Finished(result, finish, usage_id, cost, currency)

    def _spent(self, parts: list[str], started: float, error: str | None) -> GenerationResult:
        return spent_result(self.backend, self.target, self.request.messages, parts, started,
                            error)  # fmt: skip
