"""Shared bits for the benchmark scripts."""

from __future__ import annotations

import compileall
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence
from contextlib import contextmanager

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def report(verdict: dict[str, Any], **details: Any) -> None:
    """The one JSON line every bench ends with: bench, ratio, target, pass, then details
    (with the machine's 1-minute load average, as figures on a shared machine need it).

    Exits with status 1 when "pass" is false, so `make bench` stops at the first miss.
    """
    line = dict(verdict, ratio=round(float(verdict["ratio"]), 4), **details)
    line["pass"] = bool(line["pass"])
    if hasattr(os, "getloadavg"):
        line.setdefault("load_average", round(os.getloadavg()[0], 2))
    print(json.dumps(line), flush=True)
    if not line["pass"]:
        raise SystemExit(1)


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def starter_model() -> Path:
    from tests.helpers.starter import starter_model as fetch

    return fetch()


@contextmanager
def starter_data_dir() -> Iterator[Path]:
    """A throw-away data dir whose models folder holds the starter model."""
    from tests.helpers.starter import install_into

    with tempfile.TemporaryDirectory(prefix="parley-bench-") as tmp:
        data = Path(tmp)
        install_into(data / "models", starter_model())
        yield data


def time_to_shown(cmd: list[str], env: dict[str, str]) -> float:
    """Launch `cmd`; seconds until it prints PARLEY_SHOWN (app/ui/app.py's bench hook)."""
    start = time.time()
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=REPO, timeout=120)
    for line in out.stdout.splitlines():
        if line.startswith("PARLEY_SHOWN "):
            return float(line.split()[1]) - start
    raise RuntimeError(f"window never shown: {out.stderr[-2000:]}")


def alternate_time_to_shown(
    first: list[str], second: list[str], env: dict[str, str], runs: int
) -> tuple[float, float]:
    """Median start-up of two commands: warm the file cache once, then alternate, so
    drift in the machine's load hits both alike.

    Parley's bytecode is compiled first, as pip does on install: with
    PYTHONDONTWRITEBYTECODE set, each run would otherwise compile every module anew.
    """
    compileall.compile_dir(REPO / "app", quiet=1)
    time_to_shown(first, env)
    time_to_shown(second, env)
    a, b = [], []
    for _ in range(runs):
        a.append(time_to_shown(first, env))
        b.append(time_to_shown(second, env))
    return median(a), median(b)
