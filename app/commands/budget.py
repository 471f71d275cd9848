"""`parley budget set|show|delete`: spending limits per day or month."""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING

from app.commands._output import print_json, print_table
from app.core.context import AppContext

if TYPE_CHECKING:
    import argparse


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("budget", help="spending limits (overall, per provider or project)")
    verbs = p.add_subparsers(dest="verb", metavar="VERB", required=True)
    st = verbs.add_parser("set", help="set or replace a budget")
    st.add_argument("--amount", required=True, type=float, metavar="X")
    st.add_argument("--period", required=True, choices=("day", "month"))
    scope = st.add_mutually_exclusive_group()
    scope.add_argument("--provider", metavar="NAME")
    scope.add_argument("--project", metavar="NAME")
    st.add_argument("--hard", action="store_true",
                    help="refuse cloud requests that could cross it")  # fmt: skip
    st.add_argument("--currency", default="USD")
    st.add_argument("--warn-at", type=float, default=80.0, metavar="PERCENT")
    st.set_defaults(handler=set_budget)
    show = verbs.add_parser("show", help="budgets and what has been spent this period")
    show.add_argument("--json", action="store_true")
    show.set_defaults(handler=show_budgets)
    rm = verbs.add_parser("delete", help="remove a budget")
    rm.add_argument("id", type=int, metavar="ID")
    rm.set_defaults(handler=delete_budget)


def set_budget(args: argparse.Namespace) -> int:
    ctx = AppContext.open()
    budget = ctx.ledger.budgets.set(
        args.amount, args.period, provider=args.provider, project=args.project,
        hard=args.hard, currency=args.currency, warn_at=args.warn_at / 100,
    )  # fmt: skip
    kind = "hard limit" if budget.hard else f"warning at {budget.warn_at:.0%}"
    print(f"Budget {budget.id}: {budget.label}, {kind}.", file=sys.stderr)
    return 0


def show_budgets(args: argparse.Namespace) -> int:
    from app.core.billing.budgets import amount_text

    ctx = AppContext.open()
    statuses = ctx.ledger.budgets.statuses(time.time())
    if args.json:
        print_json([s.to_dict() for s in statuses])
        return 0
    if not statuses:
        print("No budgets. Set one with `parley budget set --amount 10 --period month`.",
              file=sys.stderr)  # fmt: skip
        return 0
    print_table(
        ("ID", "SCOPE", "NAME", "PERIOD", "AMOUNT", "SPENT", "USED", "HARD", "NOTE"),
        [(s.budget.id, s.budget.scope, s.budget.name, s.budget.period,
          f"{s.budget.currency} {amount_text(s.budget.amount)}", f"{s.spent:.4f}",
          f"{s.fraction:.0%}", "yes" if s.budget.hard else "",
          _note(s.other_currency_rows, s.unpriced_rows)) for s in statuses],
    )  # fmt: skip
    return 0


def _note(other_currency: int, unpriced: int) -> str:
    notes = []
    if other_currency:
        notes.append(f"{other_currency} requests in another currency not counted")
    if unpriced:
        notes.append(f"{unpriced} requests without a price")
    return "; ".join(notes)


def delete_budget(args: argparse.Namespace) -> int:
    ctx = AppContext.open()
    if not ctx.ledger.budgets.delete(args.id):
        from app.core.billing.errors import BudgetError

        raise BudgetError(f"There is no budget {args.id}.", "See `parley budget show`.")
    return 0
