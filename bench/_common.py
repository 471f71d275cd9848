"""Shared bits for the benchmark scripts."""

from __future__ import annotations

import json
import os
import statistics
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Sequence

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def report(bench: str, ratio: float, target: str, passed: bool, **details: Any) -> None:
    """The one JSON line every bench ends with."""
    line = {"bench": bench, "ratio": round(ratio, 4), "target": target, "pass": bool(passed)}
    line.update(details)
    print(json.dumps(line))


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def starter_model() -> Path:
    from tests.helpers.starter import starter_model as fetch

    return fetch()
