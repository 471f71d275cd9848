"""The fault and abuse suite: every test counts the cases it tried and what they lost.

Each module carries `pytest.mark.reliability("<category>")`; a test takes the
`tally` fixture, calls `tally.case(...)` once per case, and ends with
`tally.check()`, which fails it when anything was lost, leaked or hung. With
`PARLEY_RELIABILITY_OUT=<file>` the tallies and the test outcomes go to that
file as JSON lines, which `bench/reliability_report.py` sums up.

`PARLEY_RELIABILITY_SCALE=full` (the report sets it) runs the bigger case
counts; `make test` runs the CI sizes.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

import pytest

# The gateway on 127.0.0.1 (tests/gateway), the local hub and its broken files
# (tests/local), and the isolated keyring every provider test runs with
# (tests/providers): never the user's.
from tests.gateway.conftest import gateway  # noqa: F401
from tests.local.conftest import hub_server, starter_bytes, variants  # noqa: F401
from tests.providers.conftest import (  # noqa: F401
    cli_logging,
    fault,
    isolated_keyring,
    secret_service,
)

if TYPE_CHECKING:
    from collections.abc import Generator, Iterator

OUT_ENV = "PARLEY_RELIABILITY_OUT"
SCALE_ENV = "PARLEY_RELIABILITY_SCALE"


def full_scale() -> bool:
    return os.environ.get(SCALE_ENV) == "full"


def sized(ci: int, full: int) -> int:
    """A case count: `ci` under `make test`, `full` in the report."""
    return full if full_scale() else ci


@dataclass
class Tally:
    category: str
    test: str
    cases: int = 0
    lost: int = 0
    leaked: int = 0
    hung: int = 0
    notes: list[str] = field(default_factory=list)
    simulated: str = ""  # how a fault was simulated where the real one can't be made here

    def case(self, *, lost: bool = False, leaked: bool = False, hung: bool = False,
             note: str = "") -> None:  # fmt: skip
        self.cases += 1
        self.lost += int(lost)
        self.leaked += int(leaked)
        self.hung += int(hung)
        if note and (lost or leaked or hung):
            self.notes.append(note)

    def check(self) -> None:
        assert self.cases > 0, "a reliability test must try at least one case"
        assert (self.lost, self.leaked, self.hung) == (0, 0, 0), (
            f"{self.category}: {self.lost} lost, {self.leaked} leaked, {self.hung} hung "
            f"of {self.cases}: {self.notes[:5]}"
        )


def write_figures(category: str, figures: dict[str, float]) -> None:
    """Measured figures (seconds, milliseconds) for the report."""
    _write({"kind": "figures", "category": category,
            "figures": {k: round(v, 3) for k, v in figures.items()}})  # fmt: skip


def _write(record: dict[str, object]) -> None:
    if path := os.environ.get(OUT_ENV):
        with open(path, "a", encoding="utf-8") as out:
            out.write(json.dumps(record) + "\n")


def _category(item: pytest.Item) -> str:
    marker = item.get_closest_marker("reliability")
    return str(marker.args[0]) if marker and marker.args else "other"


@pytest.fixture
def tally(request: pytest.FixtureRequest) -> Iterator[Tally]:
    counts = Tally(_category(request.node), request.node.nodeid)
    yield counts
    _write({"kind": "tally", **asdict(counts)})


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, None]:
    outcome = yield
    report = outcome.get_result()
    if report.when == "call" or (report.when == "setup" and not report.passed):
        _write({"kind": "outcome", "category": _category(item), "test": item.nodeid,
                "outcome": report.outcome, "seconds": round(report.duration, 2)})  # fmt: skip
