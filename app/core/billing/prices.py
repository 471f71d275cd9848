"""Prices per million tokens: the user's own, the router's, and the shipped file.

The maintained dataset (`genai-prices`, see `maintained.py`) is the base;
`resources/prices.json` holds only what it lacks or converts (euro-billed
providers keep their euro prices). Lookups run on every finished request, so
the shipped file is parsed once and the table is one small indexed query.
"""

from __future__ import annotations

import json
import math
import sys
import time
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.core.billing.errors import PriceError
from app.core.billing.price import Price as Price  # its home before price.py
from app.core.billing.resolve import PriceQuery, PriceResolver

if TYPE_CHECKING:
    from app.core.foundation.storage import Database

# Nobody sells a model at $10,000 per million tokens; above that it is a typo.
MAX_PRICE_PER_MTOK = 10_000.0
KNOWN_CURRENCIES = frozenset({"USD", "EUR", "GBP", "CHF", "JPY", "CAD", "AUD", "CNY", "SEK"})


def resources_dir() -> Path:
    frozen_root = getattr(sys, "_MEIPASS", None)
    if frozen_root:
        return Path(frozen_root) / "resources"
    return Path(__file__).resolve().parents[3] / "resources"


def validate_amount(
    value: float, what: str, *, limit: float = MAX_PRICE_PER_MTOK, unit: str = "per million tokens"
) -> float:
    """Reject negative, NaN, infinite and absurd amounts with a message a user can act on."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise PriceError(f"The {what} '{value}' is not a number.", "Use e.g. 0.15.") from None
    if math.isnan(number) or math.isinf(number):
        raise PriceError(f"The {what} must be a number, not {value}.", "Use e.g. 0.15.")
    if number < 0:
        raise PriceError(f"The {what} can't be negative ({number:g}).", "Use 0 or more.")
    if number > limit:
        raise PriceError(
            f"The {what} {number:g} {unit} is not plausible.",
            f"Use at most {limit:g} {unit}.",
        )
    return number


def validate_currency(currency: str) -> str:
    code = currency.strip().upper()
    if code not in KNOWN_CURRENCIES:
        raise PriceError(
            f"Unknown currency '{currency}'.",
            f"Use one of {', '.join(sorted(KNOWN_CURRENCIES))}.",
        )
    return code


def _key(provider: str, model: str) -> tuple[str, str]:
    return provider.strip().lower(), model.strip().lower()


@cache
def shipped_prices(path: Path | None = None) -> tuple[Price, ...]:
    """Prices `genai-prices` lacks or holds only converted to dollars (euro invoices)."""
    file = path or resources_dir() / "prices.json"
    data = json.loads(file.read_text(encoding="utf-8"))
    return tuple(
        Price(
            provider=e["provider"],
            model=e["model"],
            input=validate_amount(e["input"], "input price"),
            output=validate_amount(e["output"], "output price"),
            currency=validate_currency(e["currency"]),
            source=e["source"],
            date=e["date"],
            cached_input=None if e.get("cached_input") is None else float(e["cached_input"]),
        )
        for e in data["prices"]
    )


class PriceBook:
    """The user's prices and the router's (table `prices`), and the shipped file.

    Which price applies to a request is decided in one place:
    `app.core.billing.resolve.PriceResolver`; `lookup` is its short form.
    """

    def __init__(self, db: Database, shipped: tuple[Price, ...] | None = None) -> None:
        self.db = db
        self.shipped: tuple[Price, ...] = shipped if shipped is not None else shipped_prices()

    def stored(self, providers: list[str] | None = None) -> list[Price]:
        """Rows of the `prices` table (all, or for these lower-cased provider names)."""
        if providers is None:
            return [_from_row(r) for r in self.db.query("SELECT * FROM prices")]
        marks = ", ".join("?" * len(providers))
        rows = self.db.query(
            f"SELECT * FROM prices WHERE lower(provider) IN ({marks})", providers
        )
        return [_from_row(r) for r in rows]

    def stored_for_model(self, model_keys: list[str]) -> list[Price]:
        """Rows for these lower-cased model ids at any provider (router policies)."""
        marks = ", ".join("?" * len(model_keys))
        rows = self.db.query(f"SELECT * FROM prices WHERE lower(model) IN ({marks})", model_keys)
        return [_from_row(r) for r in rows]

    def lookup(self, provider: str, model: str) -> Price | None:
        """The price one request to `provider` for `model` would be billed at, or None."""
        return PriceResolver(self).resolve(PriceQuery(provider, provider, model))

    def set(
        self,
        provider: str,
        model: str,
        input_price: float,
        output_price: float,
        currency: str = "USD",
        cached_input: float | None = None,
        source: str = "user",
        user_override: bool = True,
    ) -> Price:
        if not provider.strip() or not model.strip():
            raise PriceError("A price needs a provider and a model name.")
        price = Price(
            provider=provider.strip(),
            model=model.strip(),
            input=validate_amount(input_price, "input price"),
            output=validate_amount(output_price, "output price"),
            currency=validate_currency(currency),
            source=source,
            date=time.strftime("%Y-%m-%d", time.gmtime()),
            cached_input=None if cached_input is None else validate_amount(
                cached_input, "cached input price"),
            user_override=user_override,
        )  # fmt: skip
        self.db.execute(
            "INSERT INTO prices (provider, model, input, output, cached_input, currency, "
            "source, date, user_override) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT(provider, model) DO UPDATE SET input = excluded.input, "
            "output = excluded.output, cached_input = excluded.cached_input, "
            "currency = excluded.currency, source = excluded.source, date = excluded.date, "
            "user_override = excluded.user_override",
            (price.provider, price.model, price.input, price.output, price.cached_input,
             price.currency, price.source, price.date, int(price.user_override)),
        )  # fmt: skip
        return price

    def remove_override(self, provider: str, model: str) -> bool:
        cur = self.db.execute(
            "DELETE FROM prices WHERE provider = ? AND model = ?", (provider, model)
        )
        return cur.rowcount > 0

    def all(self) -> list[Price]:
        """Every known price; an override hides the shipped entry it replaces."""
        overrides = [_from_row(r) for r in self.db.query("SELECT * FROM prices")]
        hidden = {_key(p.provider, p.model) for p in overrides}
        merged = [p for p in self.shipped if _key(p.provider, p.model) not in hidden] + overrides
        return sorted(merged, key=lambda p: (p.provider.lower(), p.model.lower()))


def _from_row(r: Any) -> Price:
    return Price(
        provider=r["provider"], model=r["model"], input=r["input"], output=r["output"],
        currency=r["currency"], source=r["source"], date=r["date"],
        cached_input=r["cached_input"], user_override=bool(r["user_override"]),
    )  # fmt: skip
