from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from app.logs import BACKUPS, MAX_BYTES, rotate

if TYPE_CHECKING:
    from pathlib import Path


def test_a_full_log_is_rotated_at_start_and_old_ones_are_capped(tmp_path: Path) -> None:
    log = tmp_path / "parley.log"
    for run in range(BACKUPS + 2):
        log.write_text(f"run {run}\n" + "x" * MAX_BYTES)
        rotate(log)
        assert not log.exists()
    kept = sorted(p.name for p in tmp_path.iterdir())
    assert kept == [f"parley.log.{i}" for i in range(1, BACKUPS + 1)]
    assert (tmp_path / "parley.log.1").read_text().startswith(f"run {BACKUPS + 1}")


def test_a_small_log_is_kept(tmp_path: Path) -> None:
    log = tmp_path / "parley.log"
    log.write_text("short\n")
    rotate(log)
    assert log.read_text() == "short\n"
    logging.getLogger(__name__).debug("no handlers touched")
