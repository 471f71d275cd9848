"""Prices of Hugging Face-routed providers, read from the router's model list.

`GET {router}/models` lists, per model, `providers[]` with `provider` and
`pricing.input` / `pricing.output` (USD per million tokens). Parley only
calls it when the user asks (a button, `parley prices refresh-hf`); each
price keeps the date it was read, and the user's own prices always win.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from app.core.billing.errors import PriceError
from app.core.billing.prices import MAX_PRICE_PER_MTOK

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from app.core.billing.prices import PriceBook
    from app.core.foundation.settings import Settings

logger = logging.getLogger(__name__)

HF_ROUTER = "https://router.huggingface.co/v1"


@dataclass(frozen=True, slots=True)
class RouterPrice:
    provider: str
    model: str
    input: float
    output: float


@dataclass(frozen=True, slots=True)
class RefreshResult:
    updated: int
    kept_yours: int
    skipped: int  # entries without a usable price


def parse_router_models(payload: Any) -> tuple[list[RouterPrice], int]:
    """Prices in a `/models` answer, and how many entries had no usable price."""
    if not isinstance(payload, dict) or not isinstance(payload.get("data"), list):
        raise PriceError(
            "Hugging Face's model list had an unexpected shape.",
            "Try again later; your prices were not changed.",
        )
    found: list[RouterPrice] = []
    skipped = 0
    for model in payload["data"]:
        model_id = model.get("id") if isinstance(model, dict) else None
        providers = model.get("providers") if isinstance(model, dict) else None
        if not isinstance(model_id, str) or not isinstance(providers, list):
            skipped += 1
            continue
        for entry in providers:
            price = _price(model_id, entry)
            if price is None:
                skipped += 1
            else:
                found.append(price)
    return found, skipped


def _price(model_id: str, entry: Any) -> RouterPrice | None:
    if not isinstance(entry, dict) or not isinstance(entry.get("provider"), str):
        return None
    pricing = entry.get("pricing")
    if not isinstance(pricing, dict):
        return None
    try:
        inp, out = float(pricing["input"]), float(pricing["output"])
    except (KeyError, TypeError, ValueError):
        return None
    if not all(math.isfinite(v) and 0 <= v <= MAX_PRICE_PER_MTOK for v in (inp, out)):
        return None  # a broken entry must never price the ledger
    return RouterPrice(entry["provider"], model_id, inp, out)


def fetch_router_models(endpoint: str = HF_ROUTER) -> Any:
    from app.core.foundation.http import shared_client

    url = f"{endpoint.rstrip('/')}/models"
    try:
        response = shared_client().get(url)
        response.raise_for_status()
        return response.json()
    except Exception as exc:  # httpx errors, bad JSON: one message, nothing changed
        logger.info("router model list failed: %r", exc)
        raise PriceError(
            f"Couldn't read prices from {url} ({type(exc).__name__}).",
            "Check your connection and try again; your prices were not changed.",
        ) from exc


def refresh_hf_prices(
    book: PriceBook,
    endpoint: str = HF_ROUTER,
    fetch: Callable[[str], Any] = fetch_router_models,
) -> RefreshResult:
    prices, skipped = parse_router_models(fetch(endpoint))
    yours = {(p.provider.lower(), p.model.lower()) for p in book.all() if p.user_override}
    updated = kept = 0
    source = f"{endpoint.rstrip('/')}/models"
    for p in prices:
        if (p.provider.lower(), p.model.lower()) in yours:
            kept += 1
            continue
        book.set(p.provider, p.model, p.input, p.output, "USD", source=source,
                 user_override=False)  # fmt: skip
        updated += 1
    logger.info("refreshed %d router prices at %s", updated, time.strftime("%Y-%m-%d"))
    return RefreshResult(updated, kept, skipped)


REFRESHED_AT = "billing.hf_prices_refreshed_at"  # settings key: unix time of the last refresh
REFRESH_EVERY_S = 24 * 3600


def refresh_daily(
    book: PriceBook,
    settings: Settings,
    router_urls: Sequence[str],
    *,
    offline: bool,
    now: float | None = None,
    fetch: Callable[[str], Any] = fetch_router_models,
) -> RefreshResult | None:
    """Refresh router prices once a day, and only for a user who set up an HF provider
    (`router_urls`: their routers) and has not switched Parley offline. None: not due."""
    now = time.time() if now is None else now
    last = float(settings.get(REFRESHED_AT, 0.0) or 0.0)
    # A clock that moved backwards (last > now) counts as due rather than never.
    if offline or not router_urls or 0 <= now - last < REFRESH_EVERY_S:
        return None
    result = refresh_hf_prices(book, router_urls[0], fetch)
    settings.set(REFRESHED_AT, now)
    return result
