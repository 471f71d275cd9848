from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

import pytest

from app.core.billing.budgets import BudgetBook, period_start
from app.core.billing.currency import set_rate
from app.core.billing.errors import BudgetError, BudgetExceededError
from app.core.llm.targets import Target
from tests.billing.conftest import result
from tests.helpers.counting_cloud import CountingCloud

if TYPE_CHECKING:

    from app.core.billing.ledger import Ledger
    from app.core.context import AppContext
    from app.core.foundation.storage import Database


def _spend(ledger: Ledger, usd: float, provider: str = "mistral") -> None:
    # mistral-small-2506 output is 0.30 per million tokens.
    tokens = round(usd / 0.30 * 1e6)
    ledger.record(result(provider=provider, backend=provider, prompt=0, completion=tokens),
                  conversation_id=None, message_id=None)  # fmt: skip


def _check(ledger: Ledger, **kw: object) -> list[str]:
    """The budget check a request gets before it is sent (its hold released after)."""
    args: dict[str, object] = {
        "backend": "mistral", "provider": "mistral",
        "model": "mistral-small-2506", "project": None, "prompt_tokens": 0,
        "token_source": "estimated", "max_tokens": 1000,
    }  # fmt: skip
    reservation = ledger.reserve(**(args | kw))  # type: ignore[arg-type]
    ledger.release(reservation)
    return list(reservation.warnings)


def test_warning_when_a_request_would_pass_80_percent(ledger: Ledger) -> None:
    warned: list[str] = []
    ledger.on_budget_warning = warned.append
    ledger.budgets.set(1.0, "day")
    _spend(ledger, 0.5)
    assert _check(ledger) == []
    _spend(ledger, 0.35)
    assert _check(ledger) == warned
    assert len(warned) == 1
    assert "daily overall budget (USD 1.00)" in warned[0]
    assert "85 %" in warned[0]


def test_hard_budget_refuses_a_cloud_request_whose_worst_case_crosses_it(ledger: Ledger) -> None:
    ledger.on_budget_warning = lambda _m: None
    ledger.budgets.set(1.0, "month", provider="mistral", hard=True)
    _spend(ledger, 0.999)
    with pytest.raises(BudgetExceededError, match="monthly provider mistral budget") as exc:
        _check(ledger, max_tokens=10_000)
    assert "Nothing was sent" in str(exc.value)
    # A local request is never refused by a budget.
    _check(ledger, backend="local", provider="llama.cpp")
    # Another provider is not covered by this budget.
    _check(ledger, provider="deepinfra", backend="deepinfra")


def test_project_budgets_only_count_their_project(ledger: Ledger, db: Database) -> None:
    ledger.budgets.set(1.0, "day", project="acme", hard=True)
    ledger.record(result(completion=3_000_000), conversation_id=None, message_id=None,
                  project="other")  # fmt: skip
    status = ledger.budgets.statuses(time.time())[0]
    assert status.spent == 0.0
    ledger.record(result(completion=3_400_000), conversation_id=None, message_id=None,
                  project="acme")  # fmt: skip
    with pytest.raises(BudgetExceededError, match="project acme"):
        _check(ledger, project="acme")
    _check(ledger, project="other")


def test_spend_in_another_currency_is_converted_at_the_users_rate(ledger: Ledger) -> None:
    """Issue 14: a euro row counts against a dollar budget at the rate the user set."""
    ledger.prices.set("scaleway", "m", 100.0, 100.0, currency="EUR")
    ledger.record(result(provider="scaleway", backend="scaleway", model="m"),
                  conversation_id=None, message_id=None)  # fmt: skip
    _spend(ledger, 0.1)
    set_rate(ledger.settings, "EUR", 1.2)
    budget = ledger.budgets.set(10.0, "day")
    status = ledger.budgets.status(budget, time.time())
    # EUR 0.15 (1,500 tokens at EUR 100/M) is USD 0.18 at 1.2.
    assert status.spent == pytest.approx(0.1 + 0.18, rel=1e-3)
    assert status.other_currency_rows == 0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"amount": -1.0, "period": "day"}, "more than 0"),
        ({"amount": float("nan"), "period": "day"}, "not a number"),
        ({"amount": 1.0, "period": "week"}, "Unknown budget period"),
        ({"amount": 1.0, "period": "day", "provider": "a", "project": "b"}, "not both"),
        ({"amount": 1.0, "period": "day", "warn_at": 1.5}, "threshold"),
    ],
)
def test_bad_budgets_are_rejected(db: Database, kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(BudgetError, match=message):
        BudgetBook(db).set(**kwargs)  # type: ignore[arg-type]


def test_setting_a_budget_again_replaces_it(db: Database) -> None:
    book = BudgetBook(db)
    book.set(1.0, "day", provider="mistral")
    book.set(2.0, "day", provider="mistral", hard=True)
    (only,) = book.all()
    assert only.amount == 2.0 and only.hard


def test_period_start_is_local_midnight_and_first_of_month() -> None:
    now = time.time()
    day = period_start("day", now)
    month = period_start("month", now)
    assert month <= day <= now < day + 25 * 3600
    assert time.localtime(month).tm_mday == 1


def test_chat_refused_by_a_hard_budget_sends_nothing(ctx: AppContext) -> None:
    cloud = CountingCloud()
    ctx.backends.register("mistral", lambda: cloud)
    ctx.ledger.on_budget_warning = lambda _m: None
    ctx.ledger.budgets.set(0.0001, "day", hard=True)
    conv = ctx.store.create(target="mistral:mistral-small-2506")
    gen = ctx.chat.send(conv.id, "hello " * 50, Target("mistral", "mistral-small-2506"),
                        threading.Event())  # fmt: skip
    with pytest.raises(BudgetExceededError, match="daily overall budget"):
        next(gen)
    assert cloud.calls == 0
    assert ctx.ledger.count() == 0
    # Without the budget the same request goes through and is billed.
    ctx.ledger.budgets.delete(ctx.ledger.budgets.all()[0].id)
    gen = ctx.chat.send(conv.id, "hello", Target("mistral", "mistral-small-2506"),
                        threading.Event())  # fmt: skip
    assert list(gen) == ["ok"]
    assert cloud.calls == 1
    assert ctx.ledger.rows()[0].cost_source == "priced"


def test_one_click_override_lets_one_request_through(ledger: Ledger) -> None:
    warned: list[str] = []
    ledger.on_budget_warning = warned.append
    ledger.budgets.set(0.0001, "day", hard=True)
    ledger.override_budget_once()
    _check(ledger)  # not refused, but still warned
    assert warned
    with pytest.raises(BudgetExceededError):
        _check(ledger)


def test_a_dead_processes_holds_are_released_by_the_next_request(ledger: Ledger) -> None:
    """A window or `parley serve` killed mid-request leaves its reservation behind: it must
    not hold the budget for good, even when a new process got the dead one's pid."""
    import os

    ledger.on_budget_warning = lambda _m: None
    ledger.budgets.set(1.0, "day", hard=True)
    for pid, started in ((2**22 + 12_345, 1.0), (os.getpid(), 1.0)):  # gone; reused pid
        ledger.db.execute(
            "INSERT INTO reservations (started_at, pid, pid_started, backend, provider, "
            "project, amount, currency) VALUES (0, ?, ?, 'mistral', 'mistral', NULL, 0.9, "
            "'USD')", (pid, started),
        )  # fmt: skip
    _check(ledger, max_tokens=1000)  # 0.0003 at most: refused if the dead holds counted
    assert ledger.db.scalar("SELECT COUNT(*) FROM reservations") == 0


def test_a_budget_under_a_cent_is_shown_as_set_never_rounded(ledger: Ledger) -> None:
    """Found by a new user: a 0.005 budget read "USD 0.01", so a refusal at 0.0089 spent
    looked wrong."""
    ledger.budgets.set(0.005, "month", provider="mistral", hard=True)
    ledger.budgets.set(2.5, "day")
    labels = [b.label for b in ledger.budgets.all()]
    assert labels == ["monthly provider mistral budget (USD 0.005)",
                      "daily overall budget (USD 2.50)"]
