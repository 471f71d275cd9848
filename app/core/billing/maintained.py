"""Prices from the maintained `genai-prices` dataset (pydantic/genai-prices on PyPI).

It ships its data inside the package (no network), in US dollars per million
tokens, with dated price changes and model-id matching that knows dated
snapshots (`gpt-4o-mini-2024-07-18` is `gpt-4o-mini`). Importing it costs
~0.5 s (pydantic), so it loads on the first lookup, which runs on a worker
thread or in the CLI, never at the window's start-up.

Providers are found by id (`mistral`), by API address (an OpenAI-compatible
provider's host, e.g. `api.openai.com` or `openrouter.ai`), or for the Hugging
Face router by the provider that served the answer (`huggingface_<name>`).
A server on this machine or a private address never matches anything.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import TYPE_CHECKING, Any

from app.core.billing.price import Price

if TYPE_CHECKING:
    from collections.abc import Sequence

logger = logging.getLogger(__name__)

HF_PROVIDER = "huggingface"


def _targets(provider: str, served_by: str | None) -> list[tuple[str | None, str | None]]:
    """(provider_id, api_url) pairs to try for a ledger provider label."""
    label = provider.strip().lower()
    if label == HF_PROVIDER:
        return [(f"huggingface_{served_by.lower()}", None)] if served_by else []
    if "." in label or ":" in label:  # an OpenAI-compatible provider's host[:port]
        return [(None, f"https://{label}/v1")]
    return [(label, None)]


def _decimal(value: Any) -> float | None:
    if value is None:
        return None
    base = getattr(value, "base", value)  # tiered prices: the first tier
    try:
        return float(base)
    except (TypeError, ValueError):
        return None


def maintained_price(
    provider: str, served_by: str | None, models: Sequence[str], when: float
) -> Price | None:
    """The dataset's price for the first of `models` it knows at `provider`, or None."""
    targets = _targets(provider, served_by)
    if not targets or not models:
        return None
    try:
        import genai_prices
        from genai_prices.data_snapshot import get_snapshot
    except ImportError:  # pragma: no cover - a declared dependency
        logger.warning("genai-prices is not installed: no maintained prices")
        return None
    snapshot = get_snapshot()
    moment = dt.datetime.fromtimestamp(when, dt.UTC)
    for provider_id, api_url in targets:
        for model in models:
            try:
                found, info = snapshot.find_provider_model(model, None, provider_id, api_url)
                prices = info.get_prices(moment)
            except (LookupError, ValueError):
                continue
            inp, out = _decimal(getattr(prices, "input_mtok", None)), _decimal(
                getattr(prices, "output_mtok", None))  # fmt: skip
            if inp is None or out is None:
                continue  # priced per image, per second…: not a chat price
            return Price(
                provider=found.id, model=info.id, input=inp, output=out, currency="USD",
                source=f"genai-prices {genai_prices.__version__}",
                date=moment.strftime("%Y-%m-%d"),
                cached_input=_decimal(getattr(prices, "cache_read_mtok", None)),
            )  # fmt: skip
    return None
