"""Which providers serve a model behind the HF router, read from its `GET /v1/models`.

Never a hard-coded list: providers come and go between releases.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from app.core.foundation.http import shared_client
from app.core.providers._common import Guard, status_error
from app.core.providers._errors import ConnectFailedError, ProviderError

if TYPE_CHECKING:
    from collections.abc import Callable

    import httpx


@dataclass(frozen=True, slots=True)
class RouterOffer:
    provider: str
    status: str
    context_length: int | None
    input_usd_per_m: float | None  # USD per million input tokens
    output_usd_per_m: float | None
    throughput: float | None  # tokens/s as measured by the router
    first_token_latency_ms: float | None

    @property
    def summary(self) -> str:
        bits = [self.status]
        if self.input_usd_per_m is not None and self.output_usd_per_m is not None:
            bits.append(f"${self.input_usd_per_m:g}/${self.output_usd_per_m:g} per M")
        if self.context_length:
            bits.append(f"{self.context_length // 1024}k ctx")
        if self.throughput:
            bits.append(f"{self.throughput:.0f} tok/s")
        if self.first_token_latency_ms:
            bits.append(f"{self.first_token_latency_ms:.0f} ms first token")
        return " · ".join(bits)


def parse_offers(payload: Any, model_id: str) -> list[RouterOffer]:
    """The offers for `model_id` (suffix ignored) in a router `/v1/models` payload."""
    base = model_id.split(":", 1)[0]
    data = payload.get("data", []) if isinstance(payload, dict) else []
    for entry in data:
        if isinstance(entry, dict) and entry.get("id") == base:
            providers = entry.get("providers")
            return [_offer(p) for p in providers or [] if isinstance(p, dict)]
    return []


def _offer(p: dict[str, Any]) -> RouterOffer:
    raw_pricing = p.get("pricing")
    pricing: dict[str, Any] = raw_pricing if isinstance(raw_pricing, dict) else {}
    return RouterOffer(
        provider=str(p.get("provider", "?")),
        status=str(p.get("status", "unknown")),
        context_length=_num(p.get("context_length"), int),
        input_usd_per_m=_num(pricing.get("input"), float),
        output_usd_per_m=_num(pricing.get("output"), float),
        throughput=_num(p.get("throughput"), float),
        first_token_latency_ms=_num(p.get("first_token_latency_ms"), float),
    )


def _num[T: (int, float)](value: Any, kind: type[T]) -> T | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return kind(value)


def fetch_offers(
    guard: Guard, model_id: str, client: Callable[[], httpx.Client] = shared_client
) -> list[RouterOffer]:
    import httpx
    config = guard.config
    guard.check_online()
    key = guard.key()
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    try:
        resp = client().get(f"{config.base_url}/models", headers=headers, timeout=15.0)
    except httpx.HTTPError as exc:
        raise ConnectFailedError(
            f"Couldn't reach {config.display_name} to list providers ({type(exc).__name__}).",
            "Check your connection and try again.",
        ) from exc
    if resp.status_code != 200:
        raise status_error(config, resp.status_code, "", resp.headers, model_id, 1)
    try:
        return parse_offers(resp.json(), model_id)
    except ValueError:
        raise ProviderError(
            f"{config.display_name} sent a provider list Parley can't read.",
            "Type the provider name in by hand.",
        ) from None
