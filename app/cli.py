"""`parley` without a window: the same core, scriptable.

Each topic lives in `app/commands/<topic>.py` with a `register(subparsers)`
that adds its parser and sets `handler`. A handler takes the parsed args and
returns the exit status; it raises `ParleyError` for anything the user can
fix, which becomes one line on stderr and exit status 1.
"""

from __future__ import annotations

import argparse
import logging
import sys

from app import __version__
from app.commands import (
    _terminal,
    budget,
    chat,
    compare,
    conversations,
    hardware,
    models,
    prices,
    projects,
    providers,
    routing,
    serve,
    usage,
)
from app.core.foundation.errors import ParleyError
from app.core.foundation.paths import data_dir, log_path
from app.logs import configure_logging

logger = logging.getLogger(__name__)

COMMAND_MODULES = (
    chat, compare, conversations, projects, models, usage, prices, budget, providers, routing,
    serve, hardware,
)  # fmt: skip


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="parley",
        description="Chat with local and cloud models and see what each answer cost. "
        "Run without arguments to open the window.",
    )
    parser.add_argument("--version", action="version", version=f"parley {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in COMMAND_MODULES:
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    root = data_dir()
    configure_logging(log_path(root) if root.is_dir() else None)
    _terminal.install()  # model and provider text is shown, never obeyed, by the terminal
    try:
        return int(args.handler(args))
    except ParleyError as exc:
        print(f"parley: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("parley: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 1
    except Exception:
        logger.exception("command failed")
        print(
            f"parley: something went wrong; the details are in {log_path(root)}.",
            file=sys.stderr,
        )
        return 1
    finally:
        _terminal.uninstall()
