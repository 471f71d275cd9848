"""Cost by the hour: a rented or self-hosted server (vLLM, TGI, llama-server on a bigger box).

The user gives a provider an hourly rate (`parley prices hourly NAME --per-hour 2.40
--currency EUR`). Each request is billed its share of the server's time: every
moment of the server's time is split equally among the requests running on it
then, so two requests side by side each pay half of those seconds, and the
shares of all requests add up to the time the server was busy.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from app.core.billing.errors import PriceError
from app.core.billing.prices import validate_amount, validate_currency

if TYPE_CHECKING:
    from collections.abc import Callable

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


class ShareMeter:
    """Server seconds per request, split equally among the requests running at each moment."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._next = 0
        self._shares: dict[str, dict[int, float]] = {}  # server -> token -> share seconds
        self._since: dict[str, float] = {}

    def _advance(self, server: str, now: float) -> None:
        active = self._shares.setdefault(server, {})
        if active:
            each = (now - self._since.get(server, now)) / len(active)
            for token in active:
                active[token] += each
        self._since[server] = now

    def start(self, server: str) -> int:
        with self._lock:
            self._advance(server, self._clock())
            self._next += 1
            self._shares[server][self._next] = 0.0
            return self._next

    def stop(self, server: str, token: int) -> float | None:
        """This request's share in seconds; None if it was never started here."""
        with self._lock:
            if token not in self._shares.get(server, {}):
                return None
            self._advance(server, self._clock())
            return self._shares[server].pop(token)
