"""Reliability report: the fault and abuse suite at full size, summed per category.

Runs tests/reliability with PARLEY_RELIABILITY_SCALE=full (more kills, more fuzz
examples, a 1,000,000-row ledger) through tools/run-tests, so keys live in the
same private Secret Service as under `make test`, and prints per category the
cases tried and how many lost, leaked or hung anything, plus what was measured.
The goal is zero everywhere, with at least `MINIMUM` cases per category; the
last line is the usual JSON verdict:

    {"bench": "reliability", "ratio": <bad cases / cases>, "target": "== 0", "pass": ...}

`python bench/reliability_report.py [-k EXPR]` passes `-k` on to pytest.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench._common import REPO, report

CATEGORIES = {
    "crash": "Crash and kill (kill -9, restarts)",
    "network": "Network faults",
    "storage": "Storage faults",
    "model_files": "Hostile model files",
    "hub": "Hostile hub answers",
    "text": "Hostile text",
    "secrets": "Secrets",
    "load": "Load",
}
# The floor: at least 50 kills; the other categories at least a handful of cases.
MINIMUM = {"crash": 50, "network": 20, "storage": 10, "model_files": 1000, "hub": 10,
           "text": 10, "secrets": 5, "load": 10}  # fmt: skip


def run_suite(out: Path, extra: list[str]) -> tuple[int, float]:
    env = dict(os.environ, PARLEY_RELIABILITY_SCALE="full", PARLEY_RELIABILITY_OUT=str(out),
               PARLEY_SKIP_LINT="1")  # fmt: skip
    started = time.monotonic()
    proc = subprocess.run([str(REPO / "tools" / "run-tests"), "tests/reliability", "-q",
                           *extra], cwd=REPO, env=env, check=False, stdout=sys.stderr)  # fmt: skip
    return proc.returncode, time.monotonic() - started


def summarize(out: Path) -> dict[str, dict[str, Any]]:
    rows: dict[str, dict[str, Any]] = defaultdict(lambda: {
        "tests": 0, "failed": 0, "skipped": 0, "cases": 0, "lost": 0, "leaked": 0, "hung": 0,
        "simulated": set(), "figures": {}, "notes": []})  # fmt: skip
    for line in out.read_text().splitlines():
        record = json.loads(line)
        row = rows[record["category"]]
        match record["kind"]:
            case "outcome":
                row["tests"] += 1
                row["failed"] += record["outcome"] == "failed"
                row["skipped"] += record["outcome"] == "skipped"
            case "tally":
                for key in ("cases", "lost", "leaked", "hung"):
                    row[key] += record[key]
                if record["simulated"]:
                    row["simulated"].add(record["simulated"])
                row["notes"] += record["notes"][:3]
            case "figures":
                row["figures"].update(record["figures"])
    return rows


def main() -> int:
    extra = sys.argv[1:]
    with tempfile.TemporaryDirectory(prefix="parley-reliability-") as tmp:
        out = Path(tmp) / "tallies.jsonl"
        out.touch()
        code, seconds = run_suite(out, extra)
        rows = summarize(out)
    print(f"\n{'category':38} {'tests':>5} {'cases':>7} {'lost':>5} {'leaked':>6} {'hung':>5}"
          f" {'failed':>6}")  # fmt: skip
    bad = cases = 0
    short: list[str] = []
    for key, title in CATEGORIES.items():
        row = rows.get(key)
        if row is None:
            print(f"{title:38} {'not run':>5}")
            short.append(key)
            continue
        row_bad = row["lost"] + row["leaked"] + row["hung"] + row["failed"]
        bad += row_bad
        cases += row["cases"]
        if row["cases"] < MINIMUM[key] and not extra:
            short.append(key)
        print(f"{title:38} {row['tests']:>5} {row['cases']:>7} {row['lost']:>5} "
              f"{row['leaked']:>6} {row['hung']:>5} {row['failed']:>6}")  # fmt: skip
        for how in sorted(row["simulated"]):
            print(f"{'':38} simulated: {how}")
        if row["skipped"]:
            print(f"{'':38} {row['skipped']} test(s) skipped on this machine")
        for note in row["notes"][:3]:
            print(f"{'':38} ! {note[:100]}")
        if row["figures"]:
            figures = ", ".join(f"{k} {v:g}" for k, v in sorted(row["figures"].items()))
            print(f"{'':38} {figures}")
    ratio = bad / cases if cases else 1.0
    passed = code == 0 and bad == 0 and not short
    report({"bench": "reliability", "ratio": ratio, "target": "== 0", "pass": passed},
           cases=cases, bad=bad, below_minimum=short, seconds=round(seconds, 1),
           categories={k: {f: rows[k][f] for f in ("cases", "lost", "leaked", "hung", "failed")}
                       for k in CATEGORIES if k in rows},
           figures=rows["load"]["figures"] if "load" in rows else {})  # fmt: skip
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
