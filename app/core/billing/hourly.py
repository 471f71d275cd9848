"""Cost by the hour: a rented or self-hosted server (vLLM, TGI, llama-server on a bigger box).

The user gives a provider an hourly rate (`parley prices hourly NAME --per-hour 2.40
--currency EUR`). Each request is billed its share of the server's time: every
moment of the server's time is split equally among the requests running on it
then, so two requests side by side each pay half of those seconds, and the
shares of all requests add up to the time the server was busy. Which requests ran
when is read from the ledger and the reservations of running requests, so every
process sharing the data folder agrees and a restart changes nothing.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from app.core.billing.errors import PriceError
from app.core.billing.prices import validate_amount, validate_currency

if TYPE_CHECKING:
    from collections.abc import Iterable

    from app.core.foundation.settings import Settings

HOURLY = "billing.hourly"  # settings: {backend: {"per_hour": 2.4, "currency": "EUR", "date": …}}


@dataclass(frozen=True, slots=True)
class HourlyRate:
    backend: str
    per_hour: float
    currency: str
    date: str

    def cost(self, share_s: float) -> float:
        return self.per_hour * max(0.0, share_s) / 3600.0

    def to_dict(self) -> dict[str, Any]:
        return {"backend": self.backend, "per_hour": self.per_hour, "currency": self.currency,
                "date": self.date}  # fmt: skip


def load_hourly(settings: Settings) -> dict[str, HourlyRate]:
    raw = settings.get(HOURLY, {}) or {}
    out: dict[str, HourlyRate] = {}
    if isinstance(raw, dict):
        for backend, entry in raw.items():
            try:
                out[str(backend)] = HourlyRate(str(backend), float(entry["per_hour"]),
                                               str(entry["currency"]), str(entry["date"]))
            except (KeyError, TypeError, ValueError):
                continue  # a hand-edited setting never breaks the bill
    return out


def set_hourly(settings: Settings, backend: str, per_hour: float, currency: str) -> HourlyRate:
    if not backend.strip() or backend.strip() == "local":
        raise PriceError("An hourly rate belongs to a cloud or self-hosted provider by name.",
                         "See `parley providers list`.")  # fmt: skip
    rate = HourlyRate(
        backend.strip(),
        validate_amount(per_hour, "hourly rate", limit=100_000.0, unit="per hour"),
        validate_currency(currency),
        time.strftime("%Y-%m-%d"),
    )
    raw = dict(settings.get(HOURLY, {}) or {})
    raw[rate.backend] = {"per_hour": rate.per_hour, "currency": rate.currency, "date": rate.date}
    settings.set(HOURLY, raw)
    return rate


def remove_hourly(settings: Settings, backend: str) -> bool:
    raw = dict(settings.get(HOURLY, {}) or {})
    if raw.pop(backend.strip(), None) is None:
        return False
    settings.set(HOURLY, raw)
    return True


def share_seconds(start: float, end: float, others: Iterable[tuple[float, float]]) -> float:
    """This request's share, in seconds, of a server busy from `start` to `end` (seconds
    since the epoch): each moment split equally among the requests running then.

    `others` are the other requests' (start, end) on the same server, from the ledger
    (finished ones) and its reservations (running ones, which end at `end` as far as this
    request knows). Nothing lives in memory, so a restart changes no bill.
    """
    if end <= start:
        return 0.0
    overlapping = [(max(s, start), min(e, end)) for s, e in others if s < end and e > start]
    edges = sorted({start, end, *(t for pair in overlapping for t in pair)})
    share = 0.0
    for a, b in itertools.pairwise(edges):
        mid = (a + b) / 2
        running = 1 + sum(1 for s, e in overlapping if s <= mid < e)
        share += (b - a) / running
    return share
