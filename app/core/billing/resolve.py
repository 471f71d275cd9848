"""The one price resolution: which price a cloud request is billed at.

Used by the budget pre-flight, the ledger, Compare's columns (through the
ledger) and re-pricing, so whatever can be priced before sending can be
priced after, and the reverse.

A request is known by the provider's configured name (`backend`), who is paid
(`provider`), the model id as sent (`requested`, with Hugging Face's
`:provider` or `:policy` suffix) and the id the answer came back under
(`answered`: OpenAI answers `gpt-4o-mini-2024-07-18` for `gpt-4o-mini`; the
HF router answers the bare id). Sources, first match wins:

1. the user's own prices, by configured name, provider, or serving provider;
2. the Hugging Face router's live prices, for the provider that served it;
3. the shipped file (euro-billed providers);
4. the maintained dataset (`genai-prices`).

Each source is tried with the exact ids first, then with normalised ones
(lower case, no organisation, no router suffix, no date snapshot suffix). For
a router policy (`:cheapest`, `:fastest`, `:preferred`) the provider is not
known in advance: `:cheapest` takes the lowest known price for the model, the
others the highest (an upper bound, said in the price's source).
"""

from __future__ import annotations

import dataclasses
import re
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from app.core.billing.maintained import maintained_price

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence

    from app.core.billing.price import Price

HF_POLICIES = frozenset({"fastest", "cheapest", "preferred"})
# OpenAI-style `-2024-07-18` and Anthropic-style `-20241022` snapshot suffixes. Mistral's
# `-2506` is a different model (a version), never stripped.
_DATED = re.compile(r"-(\d{4}-\d{2}-\d{2}|\d{8})$")


@dataclass(frozen=True, slots=True)
class PriceQuery:
    backend: str  # the provider's configured name ("openai-proxy")
    provider: str  # who is paid ("mistral", "huggingface", "api.openai.com")
    requested: str  # the model id as sent
    answered: str | None = None  # the id the answer came back under

    def route(self) -> tuple[str, str | None, str | None]:
        """(model without suffix, serving provider, policy) of the requested id."""
        base, _, suffix = self.requested.partition(":")
        suffix = suffix.strip().lower()
        if not suffix:
            return base, None, None
        return (base, None, suffix) if suffix in HF_POLICIES else (base, suffix, None)


class PriceTable(Protocol):
    """What resolution reads: the stored prices and the shipped file (`PriceBook` is one).
    A protocol, so the book can offer `lookup` through this module without an import
    circle (prices -> resolve -> maintained -> price)."""

    @property
    def shipped(self) -> tuple[Price, ...]: ...

    def stored(self, providers: list[str] | None = None) -> list[Price]: ...

    def stored_for_model(self, model_keys: list[str]) -> list[Price]: ...


def normalise(model: str) -> str:
    """`OpenAI/GPT-4o-mini-2024-07-18:groq` -> `gpt-4o-mini`."""
    name = model.strip().lower().split(":", 1)[0].rsplit("/", 1)[-1]
    return _DATED.sub("", name)


def _unique(items: Iterable[str | None]) -> list[str]:
    return list(dict.fromkeys(i.strip().lower() for i in items if i and i.strip()))


class PriceResolver:
    def __init__(
        self,
        book: PriceTable,
        maintained: Callable[[str, str | None, Sequence[str], float], Price | None] | None = None,
    ) -> None:
        self.book = book
        self.maintained = maintained or maintained_price

    def resolve(self, q: PriceQuery, when: float | None = None) -> Price | None:
        base, served_by, policy = q.route()
        providers = _unique([q.backend, q.provider, served_by])
        exact = _unique([q.answered, q.requested, base])
        loose = _unique(normalise(m) for m in exact)
        stored = self.book.stored(providers)
        tiers = (
            [p for p in stored if p.user_override],
            [p for p in stored if not p.user_override],
            [p for p in self.book.shipped if p.provider.lower() in providers],
        )
        for prices in tiers:
            if (hit := _match(prices, providers, exact, loose)) is not None:
                return hit
        if policy is not None and (hit := self._policy_price(base, policy)) is not None:
            return hit
        refs = list(dict.fromkeys(m for m in (q.answered, base, base.rsplit("/", 1)[-1]) if m))
        return self.maintained(q.provider, served_by, refs, time.time() if when is None else when)

    def _policy_price(self, base: str, policy: str) -> Price | None:
        keys = _unique([base, normalise(base)])
        offers = [p for p in self.book.stored_for_model(keys) if not p.user_override]
        offers += [p for p in self.book.shipped if p.model.lower() in keys
                   or normalise(p.model) in keys]  # fmt: skip
        if not offers:
            return None
        def key(p: Price) -> tuple[float, float]:
            return p.input + p.output, p.input

        if policy == "cheapest":
            chosen = min(offers, key=key)
            note = f"cheapest of {len(offers)} router offers"
        else:
            chosen = max(offers, key=key)
            note = f"highest of {len(offers)} router offers: the router chose ({policy})"
        return dataclasses.replace(chosen, source=f"{chosen.source} ({note})")


def _match(
    prices: Sequence[Price], providers: list[str], exact: list[str], loose: list[str]
) -> Price | None:
    if not prices:
        return None
    by_exact = {(p.provider.lower(), p.model.lower()): p for p in prices}
    for provider in providers:
        for model in exact:
            if (hit := by_exact.get((provider, model))) is not None:
                return hit
    by_loose: dict[tuple[str, str], Price] = {}
    for p in prices:
        by_loose.setdefault((p.provider.lower(), normalise(p.model)), p)
    for provider in providers:
        for model in loose:
            if (hit := by_loose.get((provider, model))) is not None:
                return hit
    return None
