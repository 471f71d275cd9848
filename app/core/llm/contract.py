"""The contract of a model source, and the words it is written in.

Every model source (local llama.cpp, each cloud wire format, the `auto` router)
subclasses `Backend`: it must name itself and stream; every other hook has a
documented default here, so nothing elsewhere probes a backend with `getattr`.

A backend's `stream()` is a generator: it yields text deltas as they arrive
and returns a `GenerationResult`. It checks `cancel` between tokens and returns
with outcome `stopped` when it is set; it raises `ParleyError` for failures the
user can act on. Only `app.core.exchange` drives it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable, Generator, Sequence
    from threading import Event

    from app.core.llm.targets import Route


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
class ImageInput:
    """An image sent with a user message (issue 17): its MIME type and bytes."""

    mime: str
    data: bytes
    name: str = ""


@dataclass(frozen=True, slots=True)
class ChatMessage:
    role: str  # "system" | "user" | "assistant"
    content: str
    # The stored turns joined into this one, oldest first (see app.core.chat.prompt);
    # empty for a turn built by hand. Not part of equality: the text is what is sent.
    parts: tuple[str, ...] = field(default=(), compare=False)
    # Images attached to a user turn; only targets that take images are sent them.
    images: tuple[ImageInput, ...] = ()


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


class Backend(ABC):
    """A model source. `name` is what users type after `--backend`.

    Subclasses must provide `name` and `stream`; every other hook has a default
    that suits a cloud model source answering by itself.
    """

    #: The model used when a request names none ("" when the source has no default).
    default_model: str = ""

    @property
    @abstractmethod
    def name(self) -> str:
        """The registry name: `local`, `auto`, or the provider's name as the user gave it."""

    @property
    def provider(self) -> str:
        """Who is paid for what this source answers (the ledger's `provider` column)."""
        return self.name

    @property
    def is_local(self) -> bool:
        """Whether requests stay on this machine ("keep local" policies allow only these)."""
        return False

    @property
    def routes_itself(self) -> bool:
        """Whether this source only picks other targets (`auto`): see `routes`."""
        return False

    def prepare(self, model: str) -> None:
        """Fail before anything is stored or reserved when `model` can't be used here
        (offline, no key, model not installed); raise `ParleyError`. Default: nothing to do."""
        del model

    def count_prompt(self, model: str, messages: Sequence[ChatMessage]) -> int | None:
        """Exact prompt tokens for `model` when its tokenizer is at hand, else None."""
        del model, messages
        return None

    def context_length(self, model: str, requested: int) -> int:
        """`model`'s context length in tokens; `requested` (the conversation's) by default."""
        del model
        return requested

    def accepts_images(self, model: str) -> bool:
        """Whether `model` reads images sent with a user message. Default: no."""
        del model
        return False

    def billing_model(self, model: str) -> str:
        """The model id as sent (HF: with its `:provider`/`:policy` suffix), which prices
        the request. Default: `model` unchanged."""
        return model

    def routes(self, request: GenerationRequest, context: RequestContext) -> list[Route]:
        """For a source that `routes_itself`: the targets to try, best first, each with its
        reason. Raises `ParleyError` when none may answer. Others never route."""
        del request, context
        raise NotImplementedError(f"{self.name} answers by itself")

    @abstractmethod
    def stream(
        self, request: GenerationRequest, cancel: Event, *,
        on_load_progress: Callable[[str, float], None] | None = None,
    ) -> Generator[str, None, GenerationResult]:  # fmt: skip
        """Yield text deltas and return the result; `on_load_progress(model, 0.0-1.0)` hears
        of a model load this request causes (local sources), on the calling thread."""
