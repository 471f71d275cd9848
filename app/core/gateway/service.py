"""The gateway's core, without HTTP: resolve a model id, then one exchange per request.

`Gateway.open()` does every check that must answer before a response starts
(model id, then the exchange's policy, provider set-up and budget reservation,
then the local queue) and returns a `GatewayCall`; `GatewayCall.run()` streams on
the calling thread, hands each text delta to `emit`, and the exchange writes the
ledger row whatever happens. The gateway re-implements none of the request.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from app.core.chat.prompt import JOIN, SYSTEM, USER, prompt_messages
from app.core.exchange import Origin
from app.core.foundation.errors import ParleyError
from app.core.gateway.errors import api_error, bug_error
from app.core.gateway.local_lane import LocalLane
from app.core.gateway.openai_api import ApiError
from app.core.gateway.stop_sequences import StopMatcher
from app.core.llm.contract import (
    ChatMessage,
    GenerationRequest,
    GenerationResult,
    Outcome,
    Sampling,
)
from app.core.llm.sampling_defaults import default_sampling
from app.core.llm.targets import LOCAL, Target
from app.core.routing.router import AUTO

if TYPE_CHECKING:
    from collections.abc import Callable
    from threading import Event

    from app.core.exchange import Exchange, Exchanges
    from app.core.gateway.openai_api import CompletionRequest
    from app.core.local.catalog import ModelCatalog
    from app.core.providers._config import ProviderStore

logger = logging.getLogger(__name__)

GATEWAY_TAG = "gateway"
BUG_RAISED = "gateway generation failed (logged)"
RECENT = 50  # requests the window's list keeps


@dataclass(frozen=True, slots=True)
class Caller:
    """Who sent a request: the client's name and the project it bills to."""

    client: str | None
    project: str | None

    def origin(self) -> Origin:
        return Origin(project=self.project, client=self.client, tag=GATEWAY_TAG)


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
        exchanges: Callable[[], Exchanges],
        catalog: ModelCatalog,
        providers: ProviderStore,
        is_offline: Callable[[], bool],
        local_n_ctx: Callable[[str], int | None],
        lane: LocalLane | None = None,
    ) -> None:
        self._exchanges = exchanges
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
        if sep and model and backend == LOCAL:
            # Installed models by name only: a path (`local//tmp/x.gguf`, `local/../../..`)
            # would let any token holder load, or probe for, any file on the machine.
            if model in {m.name for m in self.catalog.list()}:
                return Target(backend, model)
        elif sep and model and self.providers.find(backend) is not None:
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
    ) -> GatewayCall:
        """Every check that answers before the response starts; raise `ApiError`.

        `cancel` is the flag the server sets when the client goes away.
        """
        target = self.resolve(req.model)
        request = GenerationRequest(_alternating(req.messages), self._sampling(target, req),
                                    target.model)  # fmt: skip
        try:
            exchange = self._exchanges().open(target, request, caller.origin(), cancel)
        except ParleyError as exc:
            raise api_error(exc) from exc
        if target.backend == LOCAL:
            try:
                self.lane.enter()
            except ApiError:
                exchange.abandon()
                raise
        return GatewayCall(self, exchange, caller, req.stop)

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

    def cost_of(self, usage_id: int) -> tuple[float | None, str | None]:
        """The cost and currency the ledger gave a row."""
        row = self._exchanges().ledger.get(usage_id)
        return (row.cost, row.currency) if row else (None, None)


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


class GatewayCall:
    """One request between `Gateway.open` and its ledger row."""

    def __init__(
        self, gateway: Gateway, exchange: Exchange, caller: Caller, stops: tuple[str, ...]
    ) -> None:
        self.gateway = gateway
        self.exchange = exchange
        self.caller = caller
        self.stops = stops

    @property
    def cancel(self) -> Event:
        return self.exchange.cancel  # set on client disconnect

    @property
    def is_local(self) -> bool:
        return self.exchange.target.backend == LOCAL

    def abandon(self) -> None:
        """The response never started (the client left first): give up the queue place
        and the budget reservation."""
        if self.is_local:
            self.gateway.lane.leave_queue()
        self.exchange.abandon()

    def run(self, emit: Callable[[str], None]) -> Finished:
        """Generate, calling `emit(text)`; raise `ApiError` before any text, `MidStreamError`
        after. The ledger row is written either way (not for a request that never started)."""
        started = time.monotonic()
        lane = self.gateway.lane
        if self.is_local and not lane.acquire(self.cancel):
            settled = self.exchange.stopped_before_start()
            return self._finish(settled.result, settled.usage_id)
        try:
            return self._generate(emit)
        finally:
            if self.is_local:
                lane.release(time.monotonic() - started)

    def _generate(self, emit: Callable[[str], None]) -> Finished:
        sent = False
        matcher = StopMatcher(self.stops)
        exchange = self.exchange
        for delta in exchange.deltas():
            if text := matcher.feed(delta):
                sent = True
                emit(text)
            if matcher.stopped:
                exchange.complete()  # the backend stops after this token
        if tail := matcher.flush():
            sent = True
            emit(tail)
        assert exchange.settled is not None
        finished = self._finish(exchange.settled.result, exchange.settled.usage_id)
        if exchange.bug:
            raise MidStreamError(bug_error()) if sent else RuntimeError(BUG_RAISED)
        if exchange.error is not None:
            error = api_error(exchange.error)
            raise MidStreamError(error) if sent else error
        return finished

    def _finish(self, result: GenerationResult, usage_id: int) -> Finished:
        cost, currency = self.gateway.cost_of(usage_id)
        hit_limit = result.usage.completion_tokens >= self.exchange.request.sampling.max_tokens
        finish = "length" if hit_limit and result.outcome is Outcome.DONE else "stop"
        self.gateway.served.add(Served(
            at=time.time(), client=self.caller.client, model=f"{result.backend}/{result.model}",
            status=200 if result.outcome is not Outcome.ERROR else 502,
            outcome=str(result.outcome), prompt_tokens=result.usage.prompt_tokens,
            completion_tokens=result.usage.completion_tokens, cost=cost, currency=currency,
            route=result.route, duration_s=result.duration_s,
        ))  # fmt: skip
        return Finished(result, finish, usage_id, cost, currency)
