"""Prices per million tokens: the shipped table in resources/, and the user's overrides.

Lookups run on every finished request, so the shipped table is parsed once
and overrides are one primary-key query.
"""

from __future__ import annotations

import json
import math
import sys
import time
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.core.billing.errors import PriceError

if TYPE_CHECKING:
    from app.core.foundation.storage import Database

# Nobody sells a model at $10,000 per million tokens; above that it is a typo.
MAX_PRICE_PER_MTOK = 10_000.0
KNOWN_CURRENCIES = frozenset({"USD", "EUR", "GBP", "CHF", "JPY", "CAD", "AUD", "CNY", "SEK"})


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


def _model_aliases(model: str) -> list[str]:
    """`org/Name:policy` also matches `name` (HF router ids carry org and policy)."""
    base = model.strip().lower()
    out = [base]
    head = base.split(":", 1)[0]
    out.append(head)
    out.append(head.rsplit("/", 1)[-1])
    return list(dict.fromkeys(out))


@cache
def shipped_prices(path: Path | None = None) -> tuple[Price, ...]:
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
    """Shipped prices overlaid with the user's (stored in the `prices` table)."""

    def __init__(self, db: Database, shipped: tuple[Price, ...] | None = None) -> None:
        self.db = db
        entries = shipped if shipped is not None else shipped_prices()
        self._shipped = {_key(p.provider, p.model): p for p in entries}

    def lookup(self, provider: str, model: str) -> Price | None:
        prov = provider.strip().lower()
        candidates = [(prov, m) for m in _model_aliases(model)]
        # HF router ids name the serving provider after a colon: `org/model:deepinfra`.
        if ":" in model:
            routed = model.rsplit(":", 1)[1].strip().lower()
            candidates += [(routed, m) for m in _model_aliases(model)]
        for prov_key, model_key in candidates:
            row = self.db.query(
                "SELECT * FROM prices WHERE lower(provider) = ? AND lower(model) = ?",
                (prov_key, model_key),
            )
            if row:
                return _from_row(row[0])
            for key, price in self._shipped.items():
                if key[0] == prov_key and model_key in _model_aliases(price.model):
                    return price
        return None

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
        merged = [p for k, p in self._shipped.items() if k not in hidden] + overrides
        return sorted(merged, key=lambda p: (p.provider.lower(), p.model.lower()))


def _from_row(r: Any) -> Price:
    return Price(
        provider=r["provider"], model=r["model"], input=r["input"], output=r["output"],
        currency=r["currency"], source=r["source"], date=r["date"],
        cached_input=r["cached_input"], user_override=bool(r["user_override"]),
    )  # fmt: skip
