"""Money, energy and time as the Billing tab shows them."""

from __future__ import annotations

import datetime as dt

SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥"}


def money(amount: float | None, currency: str | None) -> str:
    if amount is None:
        return "no price"
    sign = "-" if amount < 0 else ""
    value = abs(amount)
    digits = 2 if value >= 1 or value == 0 else 4 if value >= 0.0001 else 6
    symbol = SYMBOLS.get(currency or "")
    if symbol:
        return f"{sign}{symbol}{value:,.{digits}f}"
    return f"{sign}{currency or '?'} {value:,.{digits}f}"


def local_time(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S")


def energy(wh: float | None, source: str) -> str:
    if wh is None:
        return ""
    tag = "measured" if source == "energy measured" else "est."
    return f"{wh:.3g} Wh ({tag})"
