"""Billing: prices, costs, energy, budgets, aggregates and CSV export."""

from app.core.billing.aggregates import BillingSummary, range_for, summarize
from app.core.billing.budgets import Budget, BudgetBook, BudgetStatus
from app.core.billing.costs import Costing, CostSource, reprice_unpriced
from app.core.billing.errors import BudgetError, BudgetExceededError, ExportError, PriceError
from app.core.billing.export import ExportResult, export_csv, parse_date
from app.core.billing.prices import Price, PriceBook
from app.core.billing.readonly import read_connection

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
