"""What one request cost, computed once when it finishes and stored with the row.

The price used is stored next to the cost, so later price changes never
rewrite history. Cloud rows without a known price say "no price" (cost NULL,
never a silent zero) until `reprice_unpriced` fills them in.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from app.core.billing.energy import DEFAULT_WATTS, device_class, estimated_wh
from app.core.billing.errors import PriceError
from app.core.billing.prices import PriceBook, validate_amount, validate_currency

if TYPE_CHECKING:
    from app.core.billing.currency import Rates
    from app.core.billing.hourly import HourlyRate
    from app.core.billing.price import Price
    from app.core.foundation.settings import Settings
    from app.core.foundation.storage import Database

LOCAL_BACKEND = "local"
CURRENCY = "billing.currency"
ELECTRICITY_PER_KWH = "billing.electricity_per_kwh"
DEVICE_WATTS = "billing.device_watts"
HARDWARE_PRICE = "billing.hardware_price"  # 0 turns amortisation off
HARDWARE_HOURS = "billing.hardware_hours"
COMPARE_PROVIDER = "billing.compare_provider"
COMPARE_MODEL = "billing.compare_model"

DEFAULTS: dict[str, Any] = {
    CURRENCY: "USD",
    ELECTRICITY_PER_KWH: 0.25,
    HARDWARE_PRICE: 0.0,
    HARDWARE_HOURS: 10_000.0,
    COMPARE_PROVIDER: "mistral",
    COMPARE_MODEL: "mistral-small-2506",  # Mistral Small 3.2 on Mistral's API
}


class CostSource(StrEnum):
    PRICED = "priced"
    NO_PRICE = "no price"
    REPORTED = "reported"  # the provider stated the cost (OpenRouter's usage.cost)
    HOURLY = "hourly"  # a share of a server's hourly rate
    ENERGY_MEASURED = "energy measured"
    ENERGY_ESTIMATED = "energy estimated"


@dataclass(frozen=True, slots=True)
class Costing:
    cost: float | None
    currency: str | None
    source: CostSource
    price_input: float | None = None
    price_output: float | None = None
    energy_wh: float | None = None
    compare_cost: float | None = None  # local rows: the comparison cloud model's price
    price_source: str | None = None  # where the price came from (URL, dataset, "yours")
    price_date: str | None = None  # ISO date of that price


@dataclass(frozen=True, slots=True)
class LocalCostSettings:
    currency: str
    electricity_per_kwh: float
    device_watts: float
    hardware_price: float
    hardware_hours: float
    compare_provider: str
    compare_model: str


def load_local_settings(settings: Settings) -> LocalCostSettings:
    def get(key: str) -> Any:
        return settings.get(key, DEFAULTS.get(key))

    watts = get(DEVICE_WATTS)
    return LocalCostSettings(
        currency=str(get(CURRENCY)),
        electricity_per_kwh=float(get(ELECTRICITY_PER_KWH)),
        device_watts=float(watts) if watts is not None else DEFAULT_WATTS[device_class()],
        hardware_price=float(get(HARDWARE_PRICE)),
        hardware_hours=max(1.0, float(get(HARDWARE_HOURS))),
        compare_provider=str(get(COMPARE_PROVIDER)),
        compare_model=str(get(COMPARE_MODEL)),
    )


def save_local_settings(settings: Settings, values: LocalCostSettings) -> None:
    """Validate, then store: a bad wattage or electricity price never reaches the ledger."""
    validate_currency(values.currency)
    validate_amount(values.electricity_per_kwh, "electricity price", limit=100.0, unit="per kWh")
    validate_amount(values.device_watts, "device wattage", limit=20_000.0, unit="W")
    validate_amount(values.hardware_price, "hardware price", limit=10_000_000.0, unit="")
    validate_amount(values.hardware_hours, "hardware lifetime", limit=1_000_000.0, unit="h")
    if values.hardware_hours < 1:
        raise PriceError("The hardware lifetime must be at least 1 hour.")
    settings.set(CURRENCY, values.currency.upper())
    settings.set(ELECTRICITY_PER_KWH, values.electricity_per_kwh)
    settings.set(DEVICE_WATTS, values.device_watts)
    settings.set(HARDWARE_PRICE, values.hardware_price)
    settings.set(HARDWARE_HOURS, values.hardware_hours)
    settings.set(COMPARE_PROVIDER, values.compare_provider)
    settings.set(COMPARE_MODEL, values.compare_model)


def price_source_text(price: Price) -> str:
    return "yours" if price.user_override else price.source


def cloud_costing(
    price: Price | None,
    prompt_tokens: int,
    completion_tokens: int,
    reported_cost: float | None = None,
) -> Costing:
    """Per-token cost; a cost the provider reported wins over Parley's arithmetic."""
    if reported_cost is not None:
        return Costing(
            cost=reported_cost, currency="USD", source=CostSource.REPORTED,
            price_input=price.input if price else None,
            price_output=price.output if price else None,
            price_source="reported by the provider", price_date=_today(),
        )  # fmt: skip
    if price is None:
        return Costing(None, None, CostSource.NO_PRICE)
    return Costing(
        cost=price.cost(prompt_tokens, completion_tokens),
        currency=price.currency,
        source=CostSource.PRICED,
        price_input=price.input,
        price_output=price.output,
        price_source=price_source_text(price),
        price_date=price.date,
    )


def hourly_costing(rate: HourlyRate, share_s: float) -> Costing:
    return Costing(
        cost=rate.cost(share_s), currency=rate.currency, source=CostSource.HOURLY,
        price_output=rate.per_hour,  # the price used: per hour for hourly rows
        price_source=f"your hourly rate for {rate.backend}", price_date=rate.date,
    )  # fmt: skip


def _today() -> str:
    import time

    return time.strftime("%Y-%m-%d")


def local_costing(
    conf: LocalCostSettings,
    duration_s: float,
    measured_wh: float | None,
    compare: Price | None,
    prompt_tokens: int,
    completion_tokens: int,
    rates: Rates | None = None,
) -> Costing:
    energy = measured_wh if measured_wh is not None else estimated_wh(conf.device_watts, duration_s)
    cost = energy / 1000.0 * conf.electricity_per_kwh
    if conf.hardware_price > 0:
        cost += conf.hardware_price / conf.hardware_hours * max(0.0, duration_s) / 3600.0
    compare_cost = None
    if compare is not None:
        compare_cost = compare.cost(prompt_tokens, completion_tokens)
        # Another currency is converted at the user's rates, or left out rather than mixed.
        factor = 1.0 if compare.currency == conf.currency else (
            rates.factor(compare.currency, conf.currency) if rates else None)  # fmt: skip
        compare_cost = None if factor is None else compare_cost * factor
    return Costing(
        cost=cost,
        currency=conf.currency,
        source=CostSource.ENERGY_ESTIMATED if measured_wh is None else CostSource.ENERGY_MEASURED,
        price_input=None,
        price_output=conf.electricity_per_kwh,  # the price used: per kWh for local rows
        energy_wh=energy,
        compare_cost=compare_cost,
        price_source="your electricity price" + (" and hardware" if conf.hardware_price > 0
                                                 else ""),
        price_date=_today(),
    )


def reprice_unpriced(db: Database, book: PriceBook) -> int:
    """Price rows recorded with "no price" now that a price exists; returns rows priced.

    Uses the same resolution as the pre-flight and the ledger (requested id,
    answered id, configured name), so a price saved under a provider's
    configured name prices its old rows too. Run it off the GUI thread.
    """
    from app.core.billing.resolve import PriceQuery, PriceResolver

    resolver = PriceResolver(book)
    groups = db.query(
        "SELECT backend, provider, model, requested_model, MIN(created_at) AS first "
        "FROM usage WHERE cost_source = 'no price' AND backend != ? "
        "GROUP BY backend, provider, model, requested_model",
        (LOCAL_BACKEND,),
    )
    priced = 0
    for g in groups:
        query = PriceQuery(g["backend"], g["provider"], g["requested_model"] or g["model"],
                           g["model"])  # fmt: skip
        price = resolver.resolve(query, when=g["first"])
        if price is None:
            continue
        with db.transaction() as conn:
            cur = conn.execute(
                "UPDATE usage SET cost = (prompt_tokens * ? + completion_tokens * ?) / 1e6, "
                "currency = ?, cost_source = 'priced', price_input = ?, price_output = ?, "
                "price_source = ?, price_date = ? WHERE cost_source = 'no price' AND backend = ? "
                "AND provider = ? AND model = ? AND requested_model IS ?",
                (price.input, price.output, price.currency, price.input, price.output,
                 price_source_text(price), price.date, g["backend"], g["provider"], g["model"],
                 g["requested_model"]),
            )  # fmt: skip
            priced += cur.rowcount
    return priced
