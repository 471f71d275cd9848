"""One request, end to end: identity, policy, budget reservation, stream, settle, record.

Every path that asks a model for text runs through here: a chat turn, a Compare
column, a gateway request and each target `auto` tries. `Exchanges.open()`
resolves the request's identity once (backend, provider, model id as sent and as
billed, project, who pays, client), applies the policy (local-only locks, "keep
local" projects) and reserves the most the request can cost against every budget
that applies; it raises before anything is stored or sent. `Exchange.deltas()`
is the one place a backend's generator is driven: it yields text and, whatever
happens (done, stopped, failed, the consumer gone), settles the reservation into
the ledger row, so a request is billed exactly once.

A routing source (`auto`) yields routes; each is admitted like a named target
(policy, reservation) and one that fails before its first token is billed for
what it used and handed to the next.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from app.core.billing.errors import BudgetExceededError
from app.core.exchange.policy import NO_POLICY, Policy, refuse_cloud
from app.core.exchange.spend import prompt_count, spent_result
from app.core.foundation.errors import ParleyError
from app.core.llm.contract import GenerationResult, Outcome, RequestContext, TokenSource

if TYPE_CHECKING:
    from collections.abc import Callable, Generator

    from app.core.billing.ledger import Ledger, Reservation
    from app.core.llm.contract import Backend, GenerationRequest
    from app.core.llm.registry import BackendRegistry
    from app.core.llm.targets import Route, Target

logger = logging.getLogger(__name__)

BUG_MESSAGE = "Something went wrong while writing this answer. The details are in Parley's log."


class NoRouteError(ParleyError):
    """No target may, or could, answer this request."""


@dataclass(frozen=True, slots=True)
class Origin:
    """Who asks: the project and conversation a request belongs to, the conversation's
    local-only lock, the gateway client, and the ledger tag (`compare`, `gateway`)."""

    project: str | None = None
    conversation_id: int | None = None
    local_only: bool = False
    client: str | None = None
    tag: str | None = None


@dataclass(frozen=True, slots=True)
class Identity:
    """What one request is, resolved once: where it goes, who is paid, the model id as
    sent and as billed, and on whose behalf."""

    target: Target
    provider: str
    billed_model: str
    project: str | None
    bill_to: str | None
    client: str | None
    is_local: bool


@dataclass(frozen=True, slots=True)
class Settled:
    """A finished request and its ledger row."""

    result: GenerationResult
    usage_id: int


@dataclass(frozen=True, slots=True)
class _Attempt:
    backend: Backend
    identity: Identity
    request: GenerationRequest
    reservation: Reservation
    route: Route | None = None


class Exchanges:
    """Opens exchanges; one per app (the composition root builds it)."""

    def __init__(
        self,
        registry: Callable[[], BackendRegistry],
        ledger: Callable[[], Ledger],
        policy: Policy = NO_POLICY,
    ) -> None:
        self._registry = registry
        self._ledger = ledger
        self.policy = policy

    @property
    def ledger(self) -> Ledger:
        return self._ledger()

    def backend(self, name: str) -> Backend:
        return self._registry().get(name)

    def open(
        self, target: Target, request: GenerationRequest, origin: Origin,
        cancel: threading.Event | None = None,
    ) -> Exchange:  # fmt: skip
        """Admit a request: raise `ParleyError` (unknown target, policy, missing key,
        `BudgetExceededError`) before anything is stored or sent. A routing target is
        admitted route by route when it streams."""
        backend = self.backend(target.backend)
        cancel = cancel or threading.Event()
        if backend.routes_itself:
            return Exchange(self, backend, target, request, origin, cancel, None)
        attempt = self._admit(backend, target, request, origin)
        return Exchange(self, backend, target, request, origin, cancel, attempt)

    def check(self, target: Target, origin: Origin) -> None:
        """The policy and the source's own checks (offline, key, model installed) alone,
        for a front end to run before it stores anything; `open` runs them again."""
        backend = self.backend(target.backend)
        if not backend.routes_itself:
            self._check_policy(backend, origin)
            backend.prepare(target.model)

    def refused(
        self, target: Target, request: GenerationRequest, origin: Origin, error: ParleyError,
        message_id: int | None = None,
    ) -> Settled:  # fmt: skip
        """Record a request refused before it was sent (nothing spent), where a front end
        shows it as an answer that failed (a Compare column, an `auto` request no route
        took)."""
        backend = self.backend(target.backend)
        result = spent_result(backend, target, request.messages, [], time.monotonic(),
                              str(error))  # fmt: skip
        usage_id = self.ledger.record(
            result, conversation_id=origin.conversation_id, message_id=message_id,
            project=origin.project, tag=origin.tag, client=origin.client,
        )  # fmt: skip
        return Settled(result, usage_id)

    def _check_policy(self, backend: Backend, origin: Origin) -> None:
        if backend.is_local:
            return
        reason = self.policy.local_reason(origin.project, origin.conversation_id,
                                          origin.local_only)  # fmt: skip
        if reason:
            raise refuse_cloud(reason, backend.name)

    def identity(self, backend: Backend, target: Target, origin: Origin) -> Identity:
        return Identity(
            target=target,
            provider=backend.provider,
            billed_model=backend.billing_model(target.model),
            project=origin.project,
            bill_to=None if backend.is_local else self.policy.bill_to(origin.project),
            client=origin.client,
            is_local=backend.is_local,
        )

    def _admit(
        self, backend: Backend, target: Target, request: GenerationRequest, origin: Origin,
        route: Route | None = None,
    ) -> _Attempt:  # fmt: skip
        self._check_policy(backend, origin)
        backend.prepare(target.model)
        identity = self.identity(backend, target, origin)
        ledger = self.ledger
        # The prompt is counted only when a budget needs the figure (exactly: that can load
        # a tokenizer); local requests are priced by energy afterwards.
        prompt, source = 0, TokenSource.ESTIMATED
        if not backend.is_local and ledger.budgets.any():
            prompt, source = prompt_count(backend, target, request.messages)
        reservation = ledger.reserve(
            backend=backend.name, provider=identity.provider, model=identity.billed_model,
            project=origin.project, prompt_tokens=prompt, token_source=str(source),
            max_tokens=request.sampling.max_tokens, is_local=backend.is_local,
        )  # fmt: skip
        sent = dataclasses.replace(request, model=target.model, bill_to=identity.bill_to)
        return _Attempt(backend, identity, sent, reservation, route)


class Exchange:
    """One admitted request; iterate `deltas()` once.

    After `deltas()` ends, `settled` holds the result and its ledger row; `error` the
    `ParleyError` the request failed with (None when it did not), `bug` whether it
    failed on a bug (logged). `message_id` ties the row to a chat message.
    """

    def __init__(
        self, desk: Exchanges, backend: Backend, target: Target, request: GenerationRequest,
        origin: Origin, cancel: threading.Event, attempt: _Attempt | None,
    ) -> None:  # fmt: skip
        self._desk = desk
        self._backend = backend
        self.target = target
        self.request = request
        self.origin = origin
        self.cancel = cancel
        self._attempt = attempt
        self._completed = False
        self._started = False
        self.message_id: int | None = None
        self.settled: Settled | None = None
        self.error: ParleyError | None = None
        self.bug = False

    @property
    def identity(self) -> Identity:
        """The request's identity: the target that answers (for `auto`, the one tried
        last; before it streams, `auto` itself)."""
        if self._attempt is not None:
            return self._attempt.identity
        return self._desk.identity(self._backend, self.target, self.origin)

    def complete(self) -> None:
        """The caller has what it wants (a stop sequence matched): stop generating and
        count the answer as done, not stopped."""
        self._completed = True
        self.cancel.set()

    def abandon(self) -> None:
        """The request will never stream (the client left first): release its hold."""
        if not self._started and self._attempt is not None:
            self._desk.ledger.release(self._attempt.reservation)
            self._attempt = None

    def run(self) -> Settled:
        """Generate to the end without passing text on (a connection test); raise the
        `ParleyError` the request failed with, after its row is written."""
        for _delta in self.deltas():
            pass
        if self.error is not None:
            raise self.error
        assert self.settled is not None
        return self.settled

    def stopped_before_start(self) -> Settled:
        """The caller stopped the request while it waited its turn: settle it as stopped."""
        if self._started or self._attempt is None:
            raise RuntimeError("only an admitted exchange that has not streamed can stop so")
        self._started = True
        self._settle(self._attempt, self._spent(self._attempt, [], time.monotonic(), None))
        assert self.settled is not None
        return self.settled

    def deltas(
        self, on_load_progress: Callable[[str, float], None] | None = None
    ) -> Generator[str, None, None]:
        """Generate: yield text deltas, then settle. Closing the iterator early stops the
        request and bills what it used."""
        if self._started:
            raise RuntimeError("an exchange streams once")
        self._started = True
        if self._attempt is not None:
            yield from self._run(self._attempt, on_load_progress, may_fall_back=False)
        else:
            yield from self._run_routes(on_load_progress)

    # internals -------------------------------------------------------------
    def _run(
        self, attempt: _Attempt, on_load_progress: Callable[[str, float], None] | None,
        *, may_fall_back: bool, failures: tuple[str, ...] = (),
    ) -> Generator[str, None, bool]:  # fmt: skip
        """Stream one attempt; True when the request is over, False when it failed before
        its first token and the next route may take it (it is billed either way)."""
        self._attempt = attempt
        started = time.monotonic()
        parts: list[str] = []
        result: GenerationResult | None = None
        self.error = None
        stream = attempt.backend.stream(attempt.request, self.cancel,
                                        on_load_progress=on_load_progress)  # fmt: skip
        try:
            while True:
                try:
                    delta = next(stream)
                except StopIteration as stop:
                    result = stop.value
                    break
                parts.append(delta)
                yield delta
        except ParleyError as exc:
            self.error = exc
            result = self._spent(attempt, parts, started, str(exc))
        except GeneratorExit:  # the consumer went away: keep what was written, as stopped
            stream.close()
            self._settle(attempt, self._spent(attempt, parts, started, None), failures)
            raise
        except Exception:
            logger.exception("generation failed on %s", attempt.identity.target)
            self.bug = True
            result = self._spent(attempt, parts, started, BUG_MESSAGE)
        assert result is not None
        if self._completed and result.outcome is Outcome.STOPPED:
            result = dataclasses.replace(result, outcome=Outcome.DONE)
        falls_back = may_fall_back and not parts and self.error is not None
        if falls_back:
            note = f"{attempt.identity.target.backend} failed before its first token"
            self._settle(attempt, result, (*failures, note), final=False)
        else:
            self._settle(attempt, result, failures)
        return not falls_back

    def _run_routes(
        self, on_load_progress: Callable[[str, float], None] | None
    ) -> Generator[str, None, None]:
        context = RequestContext(self.origin.project, self.origin.conversation_id,
                                 self.origin.local_only)  # fmt: skip
        failures: list[str] = []
        errors: list[ParleyError] = []
        try:
            routes = self._backend.routes(self.request, context)
        except ParleyError as exc:
            self._fail_unrouted(exc)
            return
        for route in routes:
            try:
                backend = self._desk.backend(route.target.backend)
                attempt = self._desk._admit(backend, route.target, self.request, self.origin,
                                            route)  # fmt: skip
            except ParleyError as exc:
                failures.append(f"{route.target.backend} failed before its first token "
                                f"({exc.message.rstrip('.')})")  # fmt: skip
                errors.append(exc)
                continue
            over = yield from self._run(attempt, on_load_progress, may_fall_back=True,
                                        failures=tuple(failures))  # fmt: skip
            if over:
                return
            assert self.error is not None
            failures.append(f"{route.target.backend} failed before its first token "
                            f"({self.error.message.rstrip('.')})")  # fmt: skip
            errors.append(self.error)
        if errors and all(isinstance(e, BudgetExceededError) for e in errors):
            self._fail_unrouted(errors[-1])
        else:
            self._fail_unrouted(NoRouteError(
                "No target could answer: " + ("; ".join(failures) or "none was found") + ".",
                "Check the providers and the local model, or try again later.",
            ))  # fmt: skip

    def _fail_unrouted(self, exc: ParleyError) -> None:
        """No route answered: one row for the routing source itself (nothing was spent)."""
        self.error = exc
        self._attempt = None
        self.settled = self._desk.refused(self.target, self.request, self.origin, exc,
                                          self.message_id)  # fmt: skip

    def _spent(
        self, attempt: _Attempt, parts: list[str], started: float, error: str | None
    ) -> GenerationResult:
        return spent_result(attempt.backend, attempt.identity.target, attempt.request.messages,
                            parts, started, error)  # fmt: skip

    def _settle(
        self, attempt: _Attempt, result: GenerationResult, failures: tuple[str, ...] = (),
        *, final: bool = True,
    ) -> None:  # fmt: skip
        if result.requested_model is None:
            result = dataclasses.replace(result, requested_model=attempt.identity.billed_model)
        if attempt.route is not None:
            reason = attempt.route.reason + (f"; {'; '.join(failures)}" if failures else "")
            result = dataclasses.replace(result, route=reason)
        usage_id = self._desk.ledger.settle(
            attempt.reservation, result, conversation_id=self.origin.conversation_id,
            message_id=self.message_id if final else None, project=attempt.identity.project,
            tag=self.origin.tag, client=attempt.identity.client,
        )  # fmt: skip
        if final:
            self.settled = Settled(result, usage_id)
