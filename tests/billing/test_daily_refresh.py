"""HF router prices refresh once a day, only with an HF provider set up and online."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from app.core.billing.hf_prices import REFRESH_EVERY_S, REFRESHED_AT, refresh_daily

if TYPE_CHECKING:
    from app.core.context import AppContext

ROUTER = "http://127.0.0.1:9/v1"
PAYLOAD = {"data": [{"id": "mistralai/Mistral-Small-3.2-24B-Instruct-2506", "providers": [
    {"provider": "novita", "status": "live", "pricing": {"input": 0.1, "output": 0.3}}]}]}


def counting_fetch(calls: list[str]) -> Any:
    def fetch(url: str) -> Any:
        calls.append(url)
        return PAYLOAD

    return fetch


def test_refreshes_once_a_day_and_records_when(ctx: AppContext) -> None:
    calls: list[str] = []
    book, settings = ctx.ledger.prices, ctx.settings
    first = refresh_daily(book, settings, [ROUTER], offline=False, now=1_000_000.0,
                          fetch=counting_fetch(calls))  # fmt: skip
    assert first is not None and first.updated == 1
    assert book.lookup("novita", "mistralai/Mistral-Small-3.2-24B-Instruct-2506") is not None
    assert settings.get(REFRESHED_AT) == 1_000_000.0
    later = 1_000_000.0 + REFRESH_EVERY_S - 60
    assert refresh_daily(book, settings, [ROUTER], offline=False, now=later,
                         fetch=counting_fetch(calls)) is None  # fmt: skip
    next_day = 1_000_000.0 + REFRESH_EVERY_S + 1
    assert refresh_daily(book, settings, [ROUTER], offline=False, now=next_day,
                         fetch=counting_fetch(calls)) is not None  # fmt: skip
    assert calls == [ROUTER, ROUTER]


def test_never_without_an_hf_provider_or_when_offline(ctx: AppContext) -> None:
    calls: list[str] = []
    fetch = counting_fetch(calls)
    assert refresh_daily(ctx.ledger.prices, ctx.settings, [], offline=False, fetch=fetch) is None
    assert refresh_daily(ctx.ledger.prices, ctx.settings, [ROUTER], offline=True,
                         fetch=fetch) is None  # fmt: skip
    assert calls == []


def test_a_clock_that_moved_backwards_does_not_stop_refreshing(ctx: AppContext) -> None:
    ctx.settings.set(REFRESHED_AT, 5_000_000.0)
    calls: list[str] = []
    assert refresh_daily(ctx.ledger.prices, ctx.settings, [ROUTER], offline=False,
                         now=1_000_000.0, fetch=counting_fetch(calls)) is not None  # fmt: skip
