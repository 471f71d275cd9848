from __future__ import annotations

import math
from typing import TYPE_CHECKING

import pytest

from app.core.billing.errors import PriceError
from app.core.billing.prices import PriceBook, shipped_prices

if TYPE_CHECKING:
    from app.core.foundation.storage import Database


def test_shipped_file_keeps_euro_invoices_in_euros_with_source_and_date() -> None:
    """Issue 14, input 8: Scaleway's and OVHcloud's euro prices were stored as dollars."""
    table = {(p.provider, p.model): p for p in shipped_prices()}
    expected = {
        ("deepinfra", "mistralai/Mistral-Small-3.2-24B-Instruct-2506"): (0.075, 0.20, "USD"),
        ("scaleway", "mistral-small-3.2-24b-instruct-2506"): (0.15, 0.35, "EUR"),
        ("ovhcloud", "Mistral-Small-3.2-24B-Instruct-2506"): (0.09, 0.28, "EUR"),
    }
    for key, (inp, out, currency) in expected.items():
        price = table[key]
        assert (price.input, price.output, price.currency) == (inp, out, currency)
        assert price.source.startswith("https://")
        assert len(price.date) == 10


def test_maintained_dataset_prices_far_more_than_the_five_shipped_rows(db: Database) -> None:
    """Issue 14, input 8: five shipped rows, all Mistral Small. Now genai-prices seeds them."""
    book = PriceBook(db)
    for provider, model, expected in (
        ("mistral", "mistral-small-2506", (0.1, 0.3)),
        ("api.openai.com", "gpt-4o-mini-2024-07-18", (0.15, 0.6)),
        ("openrouter.ai", "openai/gpt-4o-mini", (0.15, 0.6)),
        ("mistral", "mistral-large-latest", None),
    ):
        price = book.lookup(provider, model)
        assert price is not None, (provider, model)
        assert price.currency == "USD"
        assert price.source.startswith("genai-prices ")
        assert len(price.date) == 10
        if expected:
            assert (price.input, price.output) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (-0.1, "can't be negative"),
        (math.nan, "must be a number"),
        (math.inf, "must be a number"),
        (1e9, "not plausible"),
    ],
)
def test_bad_prices_are_rejected(db: Database, value: float, message: str) -> None:
    book = PriceBook(db)
    with pytest.raises(PriceError, match=message):
        book.set("mistral", "m", value, 1.0)
    with pytest.raises(PriceError, match=message):
        book.set("mistral", "m", 1.0, value)
    assert book.lookup("mistral", "m") is None


def test_unknown_currency_is_rejected(db: Database) -> None:
    with pytest.raises(PriceError, match="Unknown currency"):
        PriceBook(db).set("mistral", "m", 1.0, 1.0, currency="XXX")


def test_override_beats_the_shipped_price_and_hides_it_in_the_list(db: Database) -> None:
    book = PriceBook(db)
    book.set("mistral", "mistral-small-2506", 0.2, 0.4, currency="eur")
    price = book.lookup("mistral", "mistral-small-2506")
    assert price is not None
    assert (price.input, price.output, price.currency, price.user_override) == (
        0.2, 0.4, "EUR", True)  # fmt: skip
    listed = [p for p in book.all() if p.model == "mistral-small-2506"]
    assert len(listed) == 1
    assert listed[0].user_override


def test_router_ids_match_the_serving_provider(db: Database) -> None:
    book = PriceBook(db)
    price = book.lookup("hf", "mistralai/Mistral-Small-3.2-24B-Instruct-2506:deepinfra")
    assert price is not None
    assert price.provider == "deepinfra"
    assert book.lookup("hf", "unknown/model:cheapest") is None
