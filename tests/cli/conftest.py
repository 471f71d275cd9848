from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest

from tests.helpers.starter import REPO

if TYPE_CHECKING:
    from pathlib import Path

Runner = Callable[..., subprocess.CompletedProcess[str]]


def parley_env(data: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PARLEY_DATA_DIR"] = str(data)
    env["PYTHONUNBUFFERED"] = "1"
    return env


@pytest.fixture
def parley(data_dir: Path) -> Runner:
    """Run the real `parley` CLI in a subprocess against the test's data dir."""

    def run(
        *args: str, stdin: str | None = None, check: bool = False
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "app", *args],
            input=stdin, capture_output=True, text=True, cwd=REPO,
            env=parley_env(data_dir), timeout=120, check=check,
        )  # fmt: skip

    return run
