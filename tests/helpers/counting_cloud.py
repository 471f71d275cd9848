"""A cloud backend that only counts how often it was asked: nothing leaves the test."""

from __future__ import annotations

from typing import TYPE_CHECKING

from app.core.llm.contract import (
    Backend,
    GenerationRequest,
    GenerationResult,
    Outcome,
    TokenSource,
    Usage,
)

if TYPE_CHECKING:
    import threading
    from collections.abc import Callable, Generator


class CountingCloud(Backend):
    """Stands in for Mistral's API; answers "ok" with reported usage."""

    name = "mistral"
    provider = "mistral"

    def __init__(self) -> None:
        self.calls = 0

    def stream(
        self, request: GenerationRequest, cancel: threading.Event, *,
        on_load_progress: Callable[[str, float], None] | None = None,
    ) -> Generator[str, None, GenerationResult]:
        self.calls += 1
        yield "ok"
        return GenerationResult("ok", Outcome.DONE, Usage(10, 1, TokenSource.REPORTED),
                                "mistral", "mistral", request.model, 0.1, 0.2)  # fmt: skip
