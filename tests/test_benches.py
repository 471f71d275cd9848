"""The bench contract: one JSON line each, and a non-zero exit on a miss so `make bench` stops."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from tests.helpers.starter import REPO

BENCH = REPO / "bench"
SCRIPT = (
    "import sys; sys.path.insert(0, {bench!r}); from _common import report; "
    "report({{'bench': 'demo', 'ratio': 1.5, 'target': '<= 1.2', 'pass': {passed}}}, extra=3)"
)


@pytest.mark.parametrize(("passed", "status"), [(True, 0), (False, 1)])
def test_report_prints_the_verdict_and_exits_non_zero_on_a_miss(passed: bool, status: int) -> None:
    proc = subprocess.run([sys.executable, "-c", SCRIPT.format(bench=str(BENCH), passed=passed)],
                          capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert proc.returncode == status
    line = json.loads(proc.stdout.strip().splitlines()[-1])
    assert line["bench"] == "demo" and line["pass"] is passed and line["extra"] == 3
    assert line["ratio"] == 1.5 and line["target"] == "<= 1.2"
    assert isinstance(line["load_average"], float)


def test_every_bench_reports_through_the_contract_and_make_bench_stops_at_a_miss() -> None:
    benches = sorted(p for p in BENCH.glob("*.py") if not p.name.startswith("_"))
    assert len(benches) >= 10
    for bench in benches:
        source = bench.read_text(encoding="utf-8")
        assert "report(" in source and 'if __name__ == "__main__":' in source, bench.name
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    rule = re.search(r"^bench:.*\n\t(.*)$", makefile, re.MULTILINE)
    assert rule is not None and "bench/[!_]*.py" in rule.group(1)
    assert "|| exit 1" in rule.group(1)
