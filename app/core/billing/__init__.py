"""Billing: the usage ledger, prices, costs, energy, budgets, aggregates and CSV export.
May use foundation and chat's backend interface (message and result types) only."""

# The names below load on first use (PEP 562): the ledger, on every start-up
# path, needs only prices, costs and budgets, not the chart and export code.
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from app.core.billing.aggregates import BillingSummary, range_for, summarize
    from app.core.billing.budgets import Budget, BudgetBook, BudgetStatus
    from app.core.billing.costs import Costing, CostSource, reprice_unpriced
    from app.core.billing.errors import (
        BudgetError,
        BudgetExceededError,
        ExportError,
        PriceError,
    )
    from app.core.billing.export import ExportResult, export_csv, parse_date
    from app.core.billing.price import Price
    from app.core.billing.prices import PriceBook
    from app.core.billing.readonly import read_connection

_HOMES = {
    "aggregates": ("BillingSummary", "range_for", "summarize"),
    "budgets": ("Budget", "BudgetBook", "BudgetStatus"),
    "costs": ("CostSource", "Costing", "reprice_unpriced"),
    "errors": ("BudgetError", "BudgetExceededError", "ExportError", "PriceError"),
    "export": ("ExportResult", "export_csv", "parse_date"),
    "price": ("Price",),
    "prices": ("PriceBook",),
    "readonly": ("read_connection",),
}
_MODULE_OF = {name: module for module, names in _HOMES.items() for name in names}

__all__ = [
    "BillingSummary",
    "Budget",
    "BudgetBook",
    "BudgetError",
    "BudgetExceededError",
    "BudgetStatus",
    "CostSource",
    "Costing",
    "ExportError",
    "ExportResult",
    "Price",
    "PriceBook",
    "PriceError",
    "export_csv",
    "parse_date",
    "range_for",
    "read_connection",
    "reprice_unpriced",
    "summarize",
]


def __getattr__(name: str) -> Any:
    if name not in _MODULE_OF:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_MODULE_OF[name]}"), name)


def __dir__() -> list[str]:
    return list(__all__)
