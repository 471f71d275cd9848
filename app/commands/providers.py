"""`parley providers add|set-key|list|test|remove`: cloud providers, keys in the OS keyring."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from app.commands._output import print_json, print_table
from app.core.context import AppContext
from app.core.providers import ProviderConfigError, all_kinds, kind_names, parse_kind

if TYPE_CHECKING:
    import argparse


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("providers", help="cloud providers (keys live in the OS keyring)")
    verbs = p.add_subparsers(dest="verb", metavar="VERB", required=True)

    add = verbs.add_parser("add", help="add a provider")
    add.add_argument("name", metavar="NAME", help="what `chat --backend` will call it")
    add.add_argument("--kind", required=True, choices=kind_names())
    add.add_argument("--base-url", default=None, metavar="URL", help="API base, e.g. .../v1")
    add.add_argument("--model", default=None, metavar="ID", help="default model id")
    add.add_argument(
        "--hf-provider", default=None, metavar="P",
        help="Hugging Face router kinds only: fastest, cheapest, preferred or a provider name",
    )  # fmt: skip
    add.set_defaults(handler=add_provider)

    key = verbs.add_parser("set-key", help="store the API key, read from standard input")
    key.add_argument("name", metavar="NAME")
    key.set_defaults(handler=set_key)

    ls = verbs.add_parser("list", help="configured providers")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(handler=list_providers)

    test = verbs.add_parser("test", help="send a real minimal request")
    test.add_argument("name", metavar="NAME")
    test.set_defaults(handler=test_provider)

    rm = verbs.add_parser("remove", help="remove a provider and its key")
    rm.add_argument("name", metavar="NAME")
    rm.set_defaults(handler=remove_provider)


def add_provider(args: argparse.Namespace) -> int:
    ctx = AppContext.open()
    kind = parse_kind(args.kind)
    if args.hf_provider and not kind.hf_router:
        routed = [k.name for k in all_kinds() if k.hf_router]
        raise ProviderConfigError(f"--hf-provider only applies to --kind {'|'.join(routed)}.")
    config = ctx.providers.add(
        args.name, kind, base_url=args.base_url, model=args.model, hf_provider=args.hf_provider
    )
    print(f"Added {config.display_name}: {config.base_url}, model {config.model or '(none)'}.")
    if kind.key_required:
        print(f"Now store its key: parley providers set-key {config.name}", file=sys.stderr)
    return 0


def set_key(args: argparse.Namespace) -> int:
    ctx = AppContext.open()
    ctx.providers.get(args.name)  # fail on a wrong name before asking for the key
    if sys.stdin.isatty():
        import getpass

        key = getpass.getpass(f"API key for {args.name} (input hidden): ")
    else:
        key = sys.stdin.read()
    ctx.providers.set_key(args.name, key)
    where = ctx.providers.keys.backend_name()
    print(f"Key for {args.name} stored ({where}).")
    return 0


def list_providers(args: argparse.Namespace) -> int:
    ctx = AppContext.open()
    configs = ctx.providers.configs()
    if args.json:
        print_json([c.to_dict() for c in configs])
        return 0
    if not configs:
        print("No providers yet. Add one with `parley providers add NAME --kind ...`.",
              file=sys.stderr)  # fmt: skip
        return 0
    print_table(
        ("NAME", "KIND", "BASE URL", "MODEL", "KEY"),
        [(c.name, c.kind.label, c.base_url,
          c.model + (f":{c.hf_provider}" if c.hf_provider else ""),
          "stored" if c.has_key else "-") for c in configs],
    )  # fmt: skip
    return 0


def test_provider(args: argparse.Namespace) -> int:
    ctx = AppContext.open()
    try:
        report = ctx.providers.test(args.name)
    finally:
        ctx.close()
    print(report.summary)
    if report.models:
        shown = ", ".join(report.models[:10]) + (" …" if len(report.models) > 10 else "")
        print(f"Models: {shown}")
    elif report.models_error:
        print(f"(Couldn't list models: {report.models_error})", file=sys.stderr)
    return 0


def remove_provider(args: argparse.Namespace) -> int:
    ctx = AppContext.open()
    ctx.providers.remove(args.name)
    print(f"Removed {args.name} and its key.")
    return 0
