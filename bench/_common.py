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


def report(verdict: dict[str, Any], **details: Any) -> None:
    """The one JSON line every bench ends with: bench, ratio, target, pass, then details."""
    line = dict(verdict, ratio=round(float(verdict["ratio"]), 4), **details)
    line["pass"] = bool(line["pass"])
    print(json.dumps(line))


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def starter_model() -> Path:
    from tests.helpers.starter import starter_model as fetch

    return fetch()
