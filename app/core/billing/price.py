"""One price per million tokens, as every source gives it (the user, the HF router, the
shipped file, the maintained dataset). A value type only: the sources import it, and it
imports none of them."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Price:
    provider: str
    model: str
    input: float  # per million prompt tokens
    output: float  # per million completion tokens
    currency: str
    source: str
    date: str  # ISO date the price was read
    cached_input: float | None = None
    user_override: bool = False

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        return (prompt_tokens * self.input + completion_tokens * self.output) / 1_000_000

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
