"""Shared helpers for CLI output."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

from app.commands import _terminal

if TYPE_CHECKING:
    from collections.abc import Sequence


def print_json(value: Any, *, indent: int | None = 2) -> None:
    """JSON on the raw stdout: it escapes control characters itself, and keeps text exact."""
    out = _terminal.raw_stdout if isinstance(sys.stdout, _terminal.VisibleText) else sys.stdout
    json.dump(value, out, ensure_ascii=False, indent=indent, default=str)
    out.write("\n")
    out.flush()


def print_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    cells = [[str(h) for h in headers]] + [["" if c is None else str(c) for c in r] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    for row in cells:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


def format_time(ts: float) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M")
