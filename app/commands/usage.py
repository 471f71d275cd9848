"""`parley usage [--json]`: the ledger, newest first; `parley usage export FILE`: CSV."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

from app.commands._output import format_time, print_json, print_table
from app.core.billing.export import export_csv, parse_date
from app.core.chat.projects import ProjectStore
from app.core.context import AppContext

if TYPE_CHECKING:
    import argparse


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("usage", help="the usage ledger, newest first (with costs)")
    p.add_argument("--json", action="store_true")
    p.add_argument("--limit", type=int, default=1000)
    p.add_argument("--project", metavar="NAME", default=None,
                   help="only this project's requests (exact name)")
    p.set_defaults(handler=show_usage)
    verbs = p.add_subparsers(dest="verb", metavar="VERB")
    export = verbs.add_parser(
        "export", help="write the ledger as CSV (RFC 4180, UTF-8, UTC ISO-8601 times)"
    )
    export.add_argument("file", metavar="FILE", type=Path)
    export.add_argument("--since", metavar="DATE", help="from this UTC date or time on")
    export.add_argument("--until", metavar="DATE", help="up to this UTC date (inclusive)")
    export.set_defaults(handler=export_usage)


def _cost_text(cost: float | None, currency: str | None, source: str) -> str:
    if cost is None:
        return source  # "no price": never shown as 0
    return f"{currency or ''} {cost:.6f}".strip()


def show_usage(args: argparse.Namespace) -> int:
    ctx = AppContext.open()
    rows = ctx.ledger.rows(limit=args.limit, project=args.project)
    if args.json:
        print_json([r.to_dict() for r in rows])
        return 0
    if args.project is not None and not rows:
        known = ", ".join(ProjectStore(ctx.db).names()) or "none yet"
        print(f"No requests in project '{args.project}' (projects: {known}).", file=sys.stderr)
        return 0
    print_table(
        ("TIME", "PROJECT", "BACKEND", "MODEL", "PROMPT", "COMPLETION", "TOKENS", "SECONDS",
         "OUTCOME", "COST", "SOURCE"),
        [(format_time(r.created_at), r.project or "", r.backend, r.model, r.prompt_tokens,
          r.completion_tokens, r.token_source, f"{r.duration_s:.2f}", r.outcome,
          _cost_text(r.cost, r.currency, r.cost_source), r.cost_source) for r in rows],
    )  # fmt: skip
    return 0


def export_usage(args: argparse.Namespace) -> int:
    since = parse_date(args.since) if args.since else None
    until = parse_date(args.until, end=True) if args.until else None
    ctx = AppContext.open()
    result = export_csv(ctx.db, args.file, since=since, until=until)
    print(f"Wrote {result.rows:,} requests to {result.path}", file=sys.stderr)
    return 0
