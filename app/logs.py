"""Logging set-up for the front ends (core modules only ever call `getLogger`)."""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

MAX_BYTES = 2_000_000
BACKUPS = 3


def configure_logging(log_file: Path | None, level: int = logging.INFO) -> None:
    root = logging.getLogger()
    root.setLevel(level)
    if log_file is not None:
        try:
            rotate(log_file)
            log_file.touch(mode=0o600, exist_ok=True)  # prompts can end up in a traceback
            handler: logging.Handler = logging.FileHandler(log_file, encoding="utf-8")
        except OSError:
            handler = logging.NullHandler()
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
        )
        root.addHandler(handler)


def rotate(log_file: Path) -> None:
    """Rotate at start, not while running: one run's log stays in one file, and
    `logging.handlers` (which pulls in pickle and socket) stays off the start-up path."""
    try:
        if log_file.stat().st_size < MAX_BYTES:
            return
    except FileNotFoundError:
        return
    for i in range(BACKUPS - 1, 0, -1):
        older = log_file.with_name(f"{log_file.name}.{i}")
        if older.exists():
            os.replace(older, log_file.with_name(f"{log_file.name}.{i + 1}"))
    os.replace(log_file, log_file.with_name(f"{log_file.name}.1"))
