"""Numbers and money as the user's locale writes them (QLocale).

The "C" locale (what an unset LANG gives) writes 1234567 without grouping; Parley
then uses English (United States) so long figures stay readable. Yen have no
minor unit: they show without decimals.
"""

from __future__ import annotations

from PySide6.QtCore import QLocale

NO_DECIMALS = {"JPY", "KRW", "VND", "CLP", "ISK", "HUF"}
SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "CNY": "¥", "INR": "₹", "KRW": "₩"}


def ui_locale() -> QLocale:
    locale = QLocale()
    if locale.language() == QLocale.Language.C:
        return QLocale(QLocale.Language.English, QLocale.Country.UnitedStates)
    return locale


def number(value: int | float, decimals: int = 0) -> str:
    """`value` with the locale's grouping and decimal separators."""
    locale = ui_locale()
    if decimals == 0:
        return str(locale.toString(round(value)))
    return str(locale.toString(float(value), "f", decimals))


def money(amount: float | None, currency: str | None) -> str:
    """An amount in its currency: symbol and separators from the locale; small amounts keep
    enough decimals to be seen (4 below one unit, 6 below 1/10,000); yen none."""
    if amount is None:
        return "no price"
    code = (currency or "").upper()
    value = abs(amount)
    if code in NO_DECIMALS and value >= 1:
        digits = 0
    else:
        digits = 2 if value >= 1 or value == 0 else 4 if value >= 0.0001 else 6
    symbol = SYMBOLS.get(code, f"{code or '?'} ")
    locale = ui_locale()
    text = str(locale.toCurrencyString(value, symbol, digits))
    # Some locales write negatives in accounting brackets; a minus sign reads plainly.
    return f"{locale.negativeSign()}{text}" if amount < 0 else text
