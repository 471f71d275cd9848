"""Frozen start-up: launch to main window shown, installed (PyInstaller) app ÷ the venv.

Target ≤ 1.3. Times the installed app (/opt/parley/parley) when the .deb is installed,
else dist/parley/parley (`make package`); PARLEY_FROZEN_BIN overrides. Also reports the
installed size in MB. Without a frozen build it says so and exits 0, so `make bench` runs.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from _common import REPO, alternate_time_to_shown, report, starter_data_dir

RUNS = 7
CANDIDATES = (Path("/opt/parley/parley"), REPO / "dist" / "parley" / "parley")


def frozen_binary() -> Path | None:
    override = os.environ.get("PARLEY_FROZEN_BIN")
    if override:
        return Path(override)
    return next((p for p in CANDIDATES if p.is_file() and os.access(p, os.X_OK)), None)


def folder_mb(folder: Path) -> float:
    total = sum(p.lstat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())
    return total / 1e6


def main() -> None:
    binary = frozen_binary()
    if binary is None:
        skipped = "no frozen build; run make package"
        print(json.dumps({"bench": "frozen_startup", "skipped": skipped}))
        return
    # A model is installed, so the first-run offer stays out of the measurement.
    with starter_data_dir() as data:
        env = dict(os.environ, PARLEY_DATA_DIR=str(data), PARLEY_EXIT_AFTER_SHOWN="1",
                   QT_QPA_PLATFORM=os.environ.get("QT_QPA_PLATFORM", "offscreen"))  # fmt: skip
        frozen_cmd = [str(binary)]
        venv_cmd = [sys.executable, "-m", "app"]
        frozen, venv = alternate_time_to_shown(frozen_cmd, venv_cmd, env, RUNS)
    ratio = frozen / venv
    report({"bench": "frozen_startup", "ratio": ratio, "target": "<= 1.3", "pass": ratio <= 1.3},
           frozen_s=round(frozen, 3), venv_s=round(venv, 3),
           installed_mb=round(folder_mb(binary.resolve().parent), 1), binary=str(binary),
           runs=RUNS)  # fmt: skip


if __name__ == "__main__":
    main()
