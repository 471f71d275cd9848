"""`parley usage`: the ledger, newest first."""

from __future__ import annotations

from typing import TYPE_CHECKING

from app.commands._output import format_time, print_json, print_table
from app.core.context import AppContext

if TYPE_CHECKING:
    import argparse


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("usage", help="the usage ledger, newest first")
    p.add_argument("--json", action="store_true")
    p.add_argument("--limit", type=int, default=1000)
    p.set_defaults(handler=show_usage)


def show_usage(args: argparse.Namespace) -> int:
    ctx = AppContext.open()
    rows = ctx.ledger.rows(limit=args.limit)
    if args.json:
        print_json([r.to_dict() for r in rows])
        return 0
    print_table(
        ("TIME", "BACKEND", "MODEL", "PROMPT", "COMPLETION", "TOKENS", "SECONDS", "OUTCOME"),
        [(format_time(r.created_at), r.backend, r.model, r.prompt_tokens, r.completion_tokens,
          r.token_source, f"{r.duration_s:.2f}", r.outcome) for r in rows],
    )  # fmt: skip
    return 0
