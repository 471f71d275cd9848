"""The `auto` source: asks the router where to go; the exchange tries each route.

A target that fails before its first token (a refused budget or policy, a 429 or
5xx, a timeout, a missing or too-big local model) hands the request to the next
route; once text has arrived, the answer stays with that target. Each route is
admitted by the exchange like a named target (policy, budget reservation), so
`auto` can never walk through a hard budget or take a "keep local" request out of
the machine. The result says which target answered and why (`route`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from app.core.foundation.errors import ParleyError
from app.core.llm.contract import Backend
from app.core.routing.router import AUTO

if TYPE_CHECKING:
    from collections.abc import Callable, Generator
    from threading import Event

    from app.core.llm.contract import GenerationRequest, GenerationResult, RequestContext
    from app.core.llm.targets import Route
    from app.core.routing.router import Router


class AutoBackend(Backend):
    def __init__(self, router: Router) -> None:
        self.router = router

    @property
    def name(self) -> str:
        return AUTO

    @property
    def provider(self) -> str:
        return "parley"

    @property
    def routes_itself(self) -> bool:
        return True

    def routes(self, request: GenerationRequest, context: RequestContext) -> list[Route]:
        return self.router.routes(request, context)

    def stream(
        self, request: GenerationRequest, cancel: Event, *,
        on_load_progress: Callable[[str, float], None] | None = None,
    ) -> Generator[str, None, GenerationResult]:  # fmt: skip
        raise ParleyError("`auto` only picks a target; the exchange streams from it.")
