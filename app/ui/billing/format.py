"""Money, energy and time as the Billing tab shows them."""

from __future__ import annotations

import datetime as dt

from app.ui.locale_format import SYMBOLS, money

__all__ = ["SYMBOLS", "energy", "local_time", "money"]


def local_time(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S")


def energy(wh: float | None, source: str) -> str:
    if wh is None:
        return ""
    tag = "measured" if source == "energy measured" else "est."
    return f"{wh:.3g} Wh ({tag})"
