"""One window per data folder: a second launch brings the first forward and exits; the
CLI beside a running window works and disturbs nothing (regression, issue 15, input 6)."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time
from typing import TYPE_CHECKING

import pytest

from tests.helpers.starter import REPO
from tests.reliability.support import parley_env, run_parley

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from tests.reliability.conftest import Tally

pytestmark = pytest.mark.reliability("storage")


@pytest.fixture
def first_window(data_dir: Path) -> Iterator[subprocess.Popen[str]]:
    proc = subprocess.Popen([sys.executable, "-m", "app"], cwd=REPO, env=parley_env(data_dir),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    log = data_dir / "parley.log"
    deadline = time.monotonic() + 60
    while not log.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)  # the log opens once the data folder is claimed and open
    assert proc.poll() is None, proc.communicate()[1][-2000:]
    time.sleep(0.5)  # and the window is up
    yield proc
    proc.kill()
    proc.communicate()


def test_a_second_launch_brings_the_first_window_forward(
    first_window: subprocess.Popen[str], data_dir: Path, tally: Tally
) -> None:
    for _ in range(2):
        second = run_parley([], data_dir, timeout=30)
        came_forward = "already open" in second.stdout
        tally.case(hung=second.hung, lost=second.code != 0 or not came_forward,
                   note=f"{second.code}: {second.stderr[-300:]}")  # fmt: skip
    assert first_window.poll() is None  # the first window is still there
    assert "asked this window to come forward" in (data_dir / "parley.log").read_text()
    tally.check()


def test_the_cli_beside_a_running_window_is_safe(
    first_window: subprocess.Popen[str], data_dir: Path, tally: Tally
) -> None:
    runs = [
        run_parley(["chat", "--json", "--max-tokens", "8", "Say hi"], data_dir, timeout=120),
        run_parley(["conversations", "list", "--json"], data_dir),
        run_parley(["usage", "--json"], data_dir),
        run_parley(["models", "list"], data_dir),
    ]
    for run in runs:
        tally.case(hung=run.hung, lost=run.code != 0, note=run.stderr[-300:])
    assert json.loads(runs[1].stdout)[0]["title"] == "Say hi"
    assert first_window.poll() is None
    conn = sqlite3.connect(data_dir / "parley.sqlite3")
    ok = conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()
    tally.case(lost=not ok)
    tally.check()
