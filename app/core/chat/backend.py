"""The one interface every model source implements (local llama.cpp, cloud APIs).

A backend's `stream()` is a generator: it yields text deltas as they arrive
and returns a `GenerationResult` (read it with `result = yield from ...` or
`StopIteration.value`). It checks `cancel` between tokens and returns with
outcome `stopped` when it is set; it raises `ParleyError` for failures the
user can act on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from collections.abc import Generator
    from threading import Event


class Outcome(StrEnum):
    STREAMING = "streaming"
    DONE = "done"
    STOPPED = "stopped"
    ERROR = "error"
    INTERRUPTED = "interrupted"


class TokenSource(StrEnum):
    REPORTED = "reported"  # the backend said how many tokens it used
    COUNTED = "counted"  # Parley counted them with the model's own tokenizer
    ESTIMATED = "estimated"  # Parley estimated them (no tokenizer for this model)


@dataclass(frozen=True, slots=True)
class ChatMessage:
    role: str  # "system" | "user" | "assistant"
    content: str
    # The stored turns joined into this one, oldest first (see app.core.chat.prompt);
    # empty for a turn built by hand. Not part of equality: the text is what is sent.
    parts: tuple[str, ...] = field(default=(), compare=False)


@dataclass(frozen=True, slots=True)
class Sampling:
    temperature: float = 0.7
    top_p: float = 0.95
    max_tokens: int = 1024
    context_length: int = 4096

    def validated(self) -> Sampling:
        from app.core.foundation.errors import ParleyError

        if not 0.0 <= self.temperature <= 2.0:
            raise ParleyError("Temperature must be between 0 and 2.")
        if not 0.0 < self.top_p <= 1.0:
            raise ParleyError("Top-p must be above 0 and at most 1.")
        if not 1 <= self.max_tokens <= 131072:
            raise ParleyError("Max tokens must be between 1 and 131072.")
        if not 256 <= self.context_length <= 1048576:
            raise ParleyError("Context length must be between 256 and 1048576 tokens.")
        return self


@dataclass(frozen=True, slots=True)
class Usage:
    prompt_tokens: int
    completion_tokens: int
    source: TokenSource


@dataclass(frozen=True, slots=True)
class GenerationRequest:
    messages: tuple[ChatMessage, ...]
    sampling: Sampling
    model: str  # the backend's model name (local: installed name or .gguf path)
    bill_to: str | None = None  # HF only: the organisation that pays (X-HF-Bill-To)


@dataclass(frozen=True, slots=True)
class GenerationResult:
    text: str
    outcome: Outcome
    usage: Usage
    backend: str
    provider: str
    model: str
    ttft_s: float | None
    duration_s: float
    error: str | None = None
    trimmed_turns: int = 0
    request_id: str | None = None
    extra: dict[str, float] = field(default_factory=dict)
    # The model id as sent (HF: with its `:provider`/`:policy` suffix); `model` is the
    # id the answer came back under. Both feed the one price resolution.
    requested_model: str | None = None
    reported_cost: float | None = None  # USD, when the provider states it (OpenRouter)
    route: str | None = None  # why an `auto` request went to this target (and what failed)

    @property
    def tokens_per_second(self) -> float | None:
        return tokens_per_second(self.usage.completion_tokens, self.duration_s, self.ttft_s)


def tokens_per_second(
    completion_tokens: int | None, duration_s: float | None, ttft_s: float | None
) -> float | None:
    """Generation speed: the tokens after the first over the time after the first."""
    if not completion_tokens or completion_tokens < 2 or not duration_s:
        return None
    gen_time = duration_s - (ttft_s or 0.0)
    return (completion_tokens - 1) / gen_time if gen_time > 0 else None


@dataclass(frozen=True, slots=True)
class RequestContext:
    """Who asks, for backends that decide where a request goes (`auto`): what the routing
    policy's rules look at besides the request itself."""

    project: str | None = None
    conversation_id: int | None = None
    local_only: bool = False  # the conversation's own lock (issue 4)


class Backend(Protocol):
    """A model source. `name` is what users type after `--backend`."""

    @property
    def name(self) -> str: ...

    def stream(
        self, request: GenerationRequest, cancel: Event
    ) -> Generator[str, None, GenerationResult]: ...


def sent_model(backend: Backend, model: str) -> str:
    """The model id as `backend` sends it (HF: with its provider or policy suffix), which
    is what prices the request; backends without a `billing_model` send it unchanged."""
    billing_model = getattr(backend, "billing_model", None)
    return str(billing_model(model)) if billing_model is not None else model
