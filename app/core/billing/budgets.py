"""Budgets: overall, per provider or per project, per day or per month.

Spend is summed from the daily roll-up (`usage_daily`, kept in step with the
ledger by triggers) over the period's local calendar days, per currency, and
converted into the budget's currency at the user's rates (shipped defaults
until they set their own). Only a currency without any rate is left out, and
counted apart.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from app.core.billing.currency import Rates, load_rates
from app.core.billing.errors import BudgetError, BudgetExceededError
from app.core.billing.prices import validate_currency
from app.core.foundation.settings import Settings

if TYPE_CHECKING:
    from app.core.foundation.storage import Database

DEFAULT_WARN_AT = 0.8
PERIODS = ("day", "month")
PERIOD_WORDS = {"day": "daily", "month": "monthly"}


@dataclass(frozen=True, slots=True)
class Budget:
    id: int
    scope: str  # "all" | "provider" | "project"
    name: str  # the provider or project; "" for the overall budget
    period: str  # "day" | "month"
    amount: float
    currency: str
    hard: bool
    warn_at: float

    @property
    def label(self) -> str:
        what = "overall" if self.scope == "all" else f"{self.scope} {self.name}"
        return (f"{PERIOD_WORDS[self.period]} {what} budget "
                f"({self.currency} {amount_text(self.amount)})")  # fmt: skip

    def applies_to(self, backend: str, provider: str, project: str | None) -> bool:
        """Whether a request to `backend` (the provider's name as the user gave it), paid to
        `provider` (the ledger's column: a host for OpenAI-compatible kinds), for `project`
        counts against this budget. A provider budget names either."""
        match self.scope:
            case "all":
                return True
            case "provider":
                return self.name.lower() in (backend.lower(), provider.lower())
            case _:
                return project is not None and project == self.name

    def scope_sql(self) -> tuple[str, list[object]]:
        """The SQL condition (and its parameters) selecting the rows this budget covers from
        a table with `backend`, `provider` and `project` columns."""
        match self.scope:
            case "provider":
                return ("(provider = ? COLLATE NOCASE OR backend = ? COLLATE NOCASE)",
                        [self.name, self.name])  # fmt: skip
            case "project":
                return "project = ?", [self.name]
            case _:
                return "1", []

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "scope": self.scope, "name": self.name, "period": self.period,
            "amount": self.amount, "currency": self.currency, "hard": self.hard,
            "warn_at": self.warn_at,
        }  # fmt: skip


@dataclass(frozen=True, slots=True)
class BudgetStatus:
    budget: Budget
    spent: float
    period_start: float
    other_currency_rows: int  # rows this budget covers but can't add up (another currency)
    unpriced_rows: int

    @property
    def fraction(self) -> float:
        return self.spent / self.budget.amount if self.budget.amount > 0 else math.inf

    def to_dict(self) -> dict[str, Any]:
        return self.budget.to_dict() | {
            "spent": round(self.spent, 6),
            "fraction": None if math.isinf(self.fraction) else round(self.fraction, 4),
            "period_start": dt.datetime.fromtimestamp(self.period_start, dt.UTC).isoformat(),
            "currency_mismatch_rows": self.other_currency_rows,
            "unpriced_rows": self.unpriced_rows,
        }


def amount_text(amount: float) -> str:
    """An amount with the cents, and with as many further digits as it has (up to six):
    a budget of 0.005 reads 0.005, never a rounded 0.01."""
    if round(amount, 2) == amount:
        return f"{amount:.2f}"
    return f"{amount:.6f}".rstrip("0")


def period_start(period: str, now: float) -> float:
    """The start of the local calendar day or month containing `now`."""
    local = dt.datetime.fromtimestamp(now).astimezone()
    start = local.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "month":
        start = start.replace(day=1)
    return start.timestamp()


def first_day(period: str, now: float) -> int:
    """The first local calendar day (days since 1970-01-01) of the period containing `now`."""
    today = dt.date.fromtimestamp(now)
    start = today.replace(day=1) if period == "month" else today
    return (start - dt.date(1970, 1, 1)).days


class BudgetBook:
    def __init__(self, db: Database) -> None:
        self.db = db

    def set(
        self,
        amount: float,
        period: str,
        *,
        provider: str | None = None,
        project: str | None = None,
        hard: bool = False,
        currency: str = "USD",
        warn_at: float = DEFAULT_WARN_AT,
    ) -> Budget:
        if period not in PERIODS:
            raise BudgetError(f"Unknown budget period '{period}'.", "Use day or month.")
        if not isinstance(amount, int | float) or math.isnan(amount) or math.isinf(amount):
            raise BudgetError(f"The budget amount {amount} is not a number.", "Use e.g. 10.")
        if amount <= 0:
            raise BudgetError("A budget must be more than 0.", "Use e.g. --amount 10.")
        if not 0 < warn_at <= 1:
            raise BudgetError("The warning threshold must be above 0 % and at most 100 %.")
        if provider and project:
            raise BudgetError(
                "A budget is overall, per provider or per project, not both.",
                "Set two budgets: one with --provider, one with --project.",
            )
        scope, name = ("provider", provider) if provider else (
            ("project", project) if project else ("all", ""))  # fmt: skip
        code = validate_currency(currency)
        self.db.execute(
            "INSERT INTO budgets (scope, name, period, amount, currency, hard, warn_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(scope, name, period) DO UPDATE SET "
            "amount = excluded.amount, currency = excluded.currency, hard = excluded.hard, "
            "warn_at = excluded.warn_at",
            (scope, name, period, float(amount), code, int(hard), warn_at),
        )
        row = self.db.query(
            "SELECT * FROM budgets WHERE scope = ? AND name = ? AND period = ?",
            (scope, name, period),
        )[0]
        return _from_row(row)

    def delete(self, budget_id: int) -> bool:
        return self.db.execute("DELETE FROM budgets WHERE id = ?", (budget_id,)).rowcount > 0

    def any(self) -> bool:
        return bool(self.db.scalar("SELECT EXISTS (SELECT 1 FROM budgets)"))

    def all(self) -> list[Budget]:
        return [_from_row(r) for r in self.db.query("SELECT * FROM budgets ORDER BY id")]

    def status(self, budget: Budget, now: float, rates: Rates | None = None) -> BudgetStatus:
        rates = rates or load_rates(Settings(self.db))
        scope, params = budget.scope_sql()
        rows = self.db.query(
            f"SELECT currency, SUM(cost), SUM(requests), SUM(unpriced) FROM usage_daily "
            f"WHERE day >= ? AND {scope} GROUP BY currency",
            [first_day(budget.period, now), *params],
        )
        spent, other, unpriced = 0.0, 0, 0
        for currency, cost, requests, no_price in rows:
            unpriced += int(no_price)
            factor = rates.factor(currency or None, budget.currency)
            if factor is None:
                other += int(requests)
            else:
                spent += float(cost) * factor
        return BudgetStatus(budget, spent, period_start(budget.period, now), other, unpriced)

    def reserved(self, budget: Budget, rates: Rates) -> float:
        """What requests running now (in any process) may still spend against `budget`, in
        its currency: the sum of their reservations (`Ledger.reserve`)."""
        scope, params = budget.scope_sql()
        rows = self.db.query(
            f"SELECT currency, SUM(amount) FROM reservations WHERE amount IS NOT NULL "
            f"AND {scope} GROUP BY currency",
            params,
        )
        held = 0.0
        for currency, amount in rows:
            factor = rates.factor(currency or None, budget.currency)
            held += float(amount) * (factor if factor is not None else 0.0)
        return held

    def statuses(self, now: float) -> list[BudgetStatus]:
        rates = load_rates(Settings(self.db))
        return [self.status(b, now, rates) for b in self.all()]

    def check(
        self,
        *,
        backend: str,
        provider: str,
        project: str | None,
        is_cloud: bool,
        worst_case: float | None,
        currency: str | None,
        now: float,
        basis: str = "priced",
        model: str = "",
        rates: Rates | None = None,
    ) -> list[str]:
        """Warnings for this request; raises `BudgetExceededError` if a hard budget refuses it.

        `worst_case` (in `currency`) is `Ledger.quote()`'s figure: the prompt
        and max_tokens of answer. None means nothing prices it in advance: a hard
        budget then refuses a cloud request (it could not cap it), except one billed
        by the hour, which it warns about. What running requests have reserved counts
        as spent. Call it inside the transaction that records the reservation."""
        budgets = self.all()
        if not budgets:
            return []
        rates = rates or load_rates(Settings(self.db))
        warnings: list[str] = []
        for budget in budgets:
            if not budget.applies_to(backend, provider, project):
                continue
            spent = self.status(budget, now, rates).spent + self.reserved(budget, rates)
            factor = rates.factor(currency, budget.currency) if worst_case is not None else None
            if worst_case is None or factor is None:
                if is_cloud and budget.hard:
                    if basis != "hourly":
                        raise _cannot_cap(budget, backend, model, currency, worst_case)
                    warnings.append(
                        f"This request is billed by the hour, so the {budget.label} can't cap "
                        "it in advance."
                    )
                extra = 0.0
            else:
                extra = worst_case * factor
            projected = spent + extra
            if is_cloud and budget.hard and extra > 0 and projected > budget.amount:
                raise BudgetExceededError(
                    f"{BudgetExceededError.PREFIX}{budget.label}: {spent:.4f} spent, "
                    f"this request could cost up to {extra:.4f}. Nothing was sent.",
                    "Raise the budget (`parley budget set`) or use a local model.",
                    budget.label,
                )
            if projected >= budget.warn_at * budget.amount:
                pct = 100 * projected / budget.amount
                warnings.append(
                    f"Budget warning: the {budget.label} would be at {pct:.0f} % "
                    f"({budget.currency} {projected:.4f}) with this request."
                )
        return warnings


def _cannot_cap(
    budget: Budget, backend: str, model: str, currency: str | None, worst_case: float | None
) -> BudgetExceededError:
    if worst_case is None:
        why = "this request has no known price"
        hint = (f"Set its price with `parley prices set {backend} {model or 'MODEL'} "
                "--input X --output Y` (per million tokens), or use a local model.")  # fmt: skip
    else:
        why = f"this request is priced in {currency}, which has no exchange rate"
        hint = f"Set one with `parley prices rate {currency} RATE`, or use a local model."
    return BudgetExceededError(
        f"{BudgetExceededError.PREFIX}{budget.label}: {why}, so the budget can't cap it. "
        "Nothing was sent.",
        hint,
        budget.label,
    )


def _from_row(r: Any) -> Budget:
    return Budget(
        id=r["id"], scope=r["scope"], name=r["name"], period=r["period"],
        amount=r["amount"], currency=r["currency"], hard=bool(r["hard"]),
        warn_at=r["warn_at"],
    )  # fmt: skip
