"""The `auto` backend: asks the router where to go and falls back when a target fails.

A target that fails before its first token (a refused budget, a 429 or 5xx,
a timeout, a missing or too-big local model) hands the request to the next
route; once text has arrived, the answer stays with that target. Each budget
check runs for the target actually tried, so `auto` can never walk through a
hard budget. The result says which target answered and why (`route`).
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from app.core.billing.errors import BudgetExceededError
from app.core.chat.backend import RequestContext, sent_model
from app.core.chat.metering import check_budgets
from app.core.foundation.errors import ParleyError
from app.core.routing.router import AUTO, NoRouteError, Route

if TYPE_CHECKING:
    from collections.abc import Callable, Generator
    from threading import Event

    from app.core.billing.ledger import Ledger
    from app.core.chat.backend import Backend, GenerationRequest, GenerationResult
    from app.core.chat.service import BackendRegistry
    from app.core.routing.router import Router


class AutoBackend:
    name = AUTO
    provider = "parley"
    # ChatService and the gateway skip their own budget check: this backend runs it
    # for the target it actually tries.
    checks_budgets = True

    def __init__(
        self, router: Router, registry: Callable[[], BackendRegistry], ledger: Callable[[], Ledger]
    ) -> None:
        self.router = router
        self._registry = registry
        self._ledger = ledger

    def stream(
        self, request: GenerationRequest, cancel: Event
    ) -> Generator[str, None, GenerationResult]:
        return self.stream_routed(request, cancel, RequestContext())

    def stream_routed(
        self, request: GenerationRequest, cancel: Event, context: RequestContext
    ) -> Generator[str, None, GenerationResult]:
        failures: list[str] = []
        errors: list[ParleyError] = []
        for route in self.router.routes(request, context):
            backend = self._registry().get(route.target.backend)
            try:
                stream = self._open(backend, route, request, cancel, context)
                first = next(stream)
            except StopIteration as stop:  # stopped, or an empty answer: nothing to fall back on
                return _routed(stop.value, backend, route, failures)
            except ParleyError as exc:
                failures.append(f"{route.target.backend} failed before its first token "
                                f"({exc.message.rstrip('.')})")  # fmt: skip
                errors.append(exc)
                continue
            yield first
            result = yield from stream
            return _routed(result, backend, route, failures)
        if errors and all(isinstance(e, BudgetExceededError) for e in errors):
            raise errors[-1]
        raise NoRouteError(
            "No target could answer: " + "; ".join(failures) + ".",
            "Check the providers and the local model, or try again later.",
        )

    def _open(
        self, backend: Backend, route: Route, request: GenerationRequest, cancel: Event,
        context: RequestContext,
    ) -> Generator[str, None, GenerationResult]:  # fmt: skip
        if (prepare := getattr(backend, "prepare", None)) is not None:
            prepare(route.target.model)
        check_budgets(
            self._ledger(), backend, route.target, request.messages,
            request.sampling.max_tokens, project=context.project,
            conversation_id=context.conversation_id,
        )  # fmt: skip
        return backend.stream(replace(request, model=route.target.model), cancel)


def _routed(
    result: GenerationResult, backend: Backend, route: Route, failures: list[str]
) -> GenerationResult:
    reason = route.reason + (f"; {'; '.join(failures)}" if failures else "")
    requested = result.requested_model or sent_model(backend, route.target.model)
    return replace(result, route=reason, requested_model=requested)
