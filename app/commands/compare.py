"""`parley compare`: one prompt to several targets, side by side."""

from __future__ import annotations

import signal
import sys
import threading
from typing import TYPE_CHECKING

from app.commands._output import print_json, print_table
from app.commands.chat import resolve_target
from app.core.chat.compare import CompareRunner, Comparison, ComparisonStore
from app.core.context import AppContext
from app.core.llm.contract import Sampling

if TYPE_CHECKING:
    import argparse
    from types import FrameType

    from app.core.llm.targets import Target


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("compare", help="send one prompt to several targets side by side")
    p.add_argument("prompt", metavar="PROMPT", help="the message; '-' reads standard input")
    p.add_argument(
        "--backend", action="append", required=True, metavar="TARGET", dest="targets",
        help="NAME or NAME:MODEL (local:PATH.gguf for a local file); repeat for each target",
    )  # fmt: skip
    p.add_argument("--system", default="", metavar="TEXT", help="system prompt for all")
    p.add_argument("--max-tokens", type=int, default=512, metavar="N")
    p.add_argument("--temperature", type=float, default=0.7, metavar="T")
    p.add_argument("--json", action="store_true", help="print one JSON object at the end")
    p.set_defaults(handler=run)


def parse_target(ctx: AppContext, spec: str) -> Target:
    name, sep, model = spec.partition(":")
    return resolve_target(ctx, name, model if sep and model else None)


def run(args: argparse.Namespace) -> int:
    prompt = sys.stdin.read() if args.prompt == "-" else args.prompt
    ctx = AppContext.open()
    targets = [parse_target(ctx, spec) for spec in args.targets]
    runner = CompareRunner(ctx.exchanges, ComparisonStore(ctx.db))
    cancels = [threading.Event() for _ in targets]

    def on_sigint(_signum: int, _frame: FrameType | None) -> None:
        for cancel in cancels:
            cancel.set()

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        comparison = runner.run(
            prompt, targets, system_prompt=args.system, cancels=cancels,
            sampling=Sampling(temperature=args.temperature, max_tokens=args.max_tokens),
        )  # fmt: skip
    finally:
        signal.signal(signal.SIGINT, previous)
    if args.json:
        print_json(comparison.to_dict(), indent=None)
    else:
        print_comparison(comparison)
    for column in comparison.columns:
        if column.error:
            print(f"parley: {column.target}: {column.error}", file=sys.stderr)
    ctx.close()
    return 0 if any(c.answered for c in comparison.columns) else 1


def print_comparison(comparison: Comparison) -> None:
    cheapest, fastest = comparison.cheapest(), comparison.fastest()
    for c in comparison.columns:
        print(f"== {c.target} ({c.model or c.target.model}) ==")
        print(c.text.strip() or f"[{c.error or c.outcome}]")
        print()
    rows = []
    for c in comparison.columns:
        marks = " ".join(m for m, pos in (("cheapest", cheapest), ("fastest", fastest))
                         if pos == c.position)  # fmt: skip
        cost = "no price" if c.cost is None else f"{c.cost:.6f} {c.currency or ''}".strip()
        rows.append((
            str(c.target), c.outcome, _fmt(c.ttft_s, "{:.2f}s"),
            _fmt(c.tokens_per_second, "{:.1f}"), c.completion_tokens or 0, cost, marks,
        ))  # fmt: skip
    print_table(("TARGET", "OUTCOME", "TTFT", "TOK/S", "TOKENS", "COST", ""), rows)


def _fmt(value: float | None, pattern: str) -> str:
    return "" if value is None else pattern.format(value)
