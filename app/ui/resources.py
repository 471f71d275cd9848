"""Locate files in `resources/`, from a checkout or a frozen build."""

from __future__ import annotations

import sys
from pathlib import Path


def resources_dir() -> Path:
    frozen_root = getattr(sys, "_MEIPASS", None)
    if frozen_root:
        return Path(frozen_root) / "resources"
    return Path(__file__).resolve().parents[2] / "resources"


def icon_path() -> Path | None:
    for name in ("icons/parley.svg", "icons/parley-256.png"):
        path = resources_dir() / name
        if path.is_file():
            return path
    return None
