"""Billing errors: each says what failed and what to do next."""

from __future__ import annotations

from app.core.foundation.errors import ParleyError


class PriceError(ParleyError):
    """A price that is negative, not a number, absurd, or in an unknown currency."""


class BudgetError(ParleyError):
    """A budget definition that makes no sense (negative amount, unknown period)."""


class BudgetExceededError(ParleyError):
    """A hard budget refused a cloud request before anything was sent.

    Its message starts with PREFIX, which is how the window (which only gets the
    text across threads) knows to offer the one-click override.
    """

    PREFIX = "Refused by the "

    def __init__(self, message: str, hint: str, budget_label: str) -> None:
        super().__init__(message, hint)
        self.budget_label = budget_label


class ExportError(ParleyError):
    """The CSV file could not be written."""
