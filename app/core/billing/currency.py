"""Currencies: every price and row keeps its own; totals, charts and budgets convert to one.

A rate is how many US dollars one unit of a currency is worth. Parley ships
dated defaults (approximate mid-market rates; see `SHIPPED_DATE`), and the
user can set their own (`parley prices rate EUR 1.16`), which also carry the
date they were set. Converting is a multiplication per currency group, never
per row, so it costs nothing at a million rows.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from app.core.billing.errors import PriceError
from app.core.billing.prices import validate_amount, validate_currency

if TYPE_CHECKING:
    from collections.abc import Mapping

    from app.core.foundation.settings import Settings

DISPLAY_CURRENCY = "billing.display_currency"
RATES = "billing.rates"  # settings: {"EUR": [1.16, "2026-11-20"], ...}, the user's own
# USD per unit; approximate mid-market rates of this date. Users set their own.
SHIPPED_DATE = "2025-06-30"
SHIPPED_RATES: dict[str, float] = {
    "USD": 1.0, "EUR": 1.17, "GBP": 1.37, "CHF": 1.25, "JPY": 0.0069, "CAD": 0.73,
    "AUD": 0.66, "CNY": 0.14, "SEK": 0.105,
}  # fmt: skip


class SettingsReader(Protocol):
    def get(self, key: str, default: Any = None) -> Any: ...


@dataclass(frozen=True, slots=True)
class Rate:
    currency: str
    usd_per_unit: float
    date: str
    source: str  # "shipped" | "yours"

    def to_dict(self) -> dict[str, Any]:
        return {"currency": self.currency, "usd_per_unit": self.usd_per_unit,
                "date": self.date, "source": self.source}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Rates:
    """Rates in force, and the currency totals are shown in."""

    rates: Mapping[str, Rate]
    display: str

    def factor(self, currency: str | None, into: str | None = None) -> float | None:
        """Multiply an amount in `currency` by this to get `into` (default: the display
        currency); None when either has no rate."""
        target = into or self.display
        if currency is None or currency == target:
            return 1.0
        src, dst = self.rates.get(currency), self.rates.get(target)
        if src is None or dst is None or dst.usd_per_unit <= 0:
            return None
        return src.usd_per_unit / dst.usd_per_unit

    def convert(self, amount: float, currency: str | None, into: str | None = None) -> float:
        factor = self.factor(currency, into)
        if factor is None:
            raise PriceError(
                f"There is no exchange rate for {currency} or {into or self.display}.",
                f"Set one with `parley prices rate {currency} USD_PER_UNIT`.",
            )
        return amount * factor

    def sql_factor(self, column: str = "currency") -> str:
        """SQL for the factor into the display currency (NULL when there is no rate).

        Codes and numbers are our own validated values, inlined so the query stays one
        static text; '' (an unpriced row's currency in the roll-up) converts as 1."""
        cases = " ".join(f"WHEN '{code}' THEN {factor!r}" for code in sorted(self.rates)
                         if (factor := self.factor(code)) is not None)  # fmt: skip
        return f"(CASE {column} WHEN '' THEN 1.0 {cases} END)"

    def describe(self, currencies: set[str]) -> str:
        """`1 EUR = 1.17 USD (shipped, 2025-06-30)` for each currency converted."""
        parts = []
        for code in sorted(currencies - {self.display}):
            rate, factor = self.rates.get(code), self.factor(code)
            if rate is None or factor is None:
                continue
            parts.append(f"1 {code} = {factor:.4g} {self.display} ({rate.source}, {rate.date})")
        return "; ".join(parts)


def load_rates(settings: SettingsReader) -> Rates:
    rates = {code: Rate(code, value, SHIPPED_DATE, "shipped") for code, value in
             SHIPPED_RATES.items()}  # fmt: skip
    yours = settings.get(RATES, {}) or {}
    if isinstance(yours, dict):
        for code, entry in yours.items():
            try:
                value, date = float(entry[0]), str(entry[1])
            except (TypeError, ValueError, IndexError):
                continue  # a hand-edited setting never breaks the bill
            rates[str(code)] = Rate(str(code), value, date, "yours")
    display = str(settings.get(DISPLAY_CURRENCY, "USD") or "USD")
    return Rates(rates, display if display in rates else "USD")


def set_rate(settings: Settings, currency: str, usd_per_unit: float) -> Rate:
    code = validate_currency(currency)
    if code == "USD":
        raise PriceError("USD is the reference: its rate is always 1.", "Set another currency.")
    value = validate_amount(usd_per_unit, "exchange rate", limit=100_000.0, unit="USD per unit")
    if value <= 0:
        raise PriceError("An exchange rate must be more than 0.", "Use e.g. 1.17 for EUR.")
    yours = dict(settings.get(RATES, {}) or {})
    date = time.strftime("%Y-%m-%d")
    yours[code] = [value, date]
    settings.set(RATES, yours)
    return Rate(code, value, date, "yours")


def set_display_currency(settings: Settings, currency: str) -> str:
    code = validate_currency(currency)
    settings.set(DISPLAY_CURRENCY, code)
    return code
