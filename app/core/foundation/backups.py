"""Rolling backups of the database, and restoring the newest good one.

A backup is SQLite's online backup (`sqlite3.Connection.backup`) into
`backups/parley-YYYYmmdd-HHMMSS.sqlite3` beside the database, taken at most
once a day from a second connection, a few pages at a time, so the app keeps
writing meanwhile; it counts only after `PRAGMA quick_check` says "ok". The
newest `KEEP` stay. Restoring moves the damaged file aside (never deletes it)
and copies the backup in its place.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import sqlite3
import sys
import threading
import time
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

from app.core.foundation.paths import PRIVATE_DIR, PRIVATE_FILE

logger = logging.getLogger(__name__)

FOLDER = "backups"
KEEP = 3
EVERY_S = 24 * 3600
PAGES_PER_STEP = 256  # ~1 MB per step; the app's reads and writes get the disk in between
STEP_PAUSE_S = 0.01
_PREFIX, _SUFFIX = "parley-", ".sqlite3"


def backups(db_path: Path) -> list[Path]:
    """The backups of `db_path`, newest first."""
    folder = db_path.parent / FOLDER
    if not folder.is_dir():
        return []
    found = [p for p in folder.iterdir()
             if p.name.startswith(_PREFIX) and p.name.endswith(_SUFFIX)]  # fmt: skip
    return sorted(found, key=lambda p: p.name, reverse=True)


def taken_at(backup: Path) -> datetime:
    stamp = backup.name.removeprefix(_PREFIX).removesuffix(_SUFFIX)
    return datetime.strptime(stamp, "%Y%m%d-%H%M%S")


def backup_due(db_path: Path, now: float | None = None) -> bool:
    found = backups(db_path)
    if not found:
        return True
    age = (now or time.time()) - taken_at(found[0]).timestamp()
    return age >= EVERY_S


def make_backup(db_path: Path, *, keep: int = KEEP, now: float | None = None) -> Path | None:
    """Back `db_path` up; None when it could not be (no room, or the copy failed its check).

    Never raises for the machine's reasons: a backup that can't be taken is logged
    and tried again next time. The copy runs on a thread of its own at the lowest
    priority (Linux), so the caller's thread keeps its own.
    """
    made: list[Path | None] = [None]

    def run() -> None:
        _lower_priority()
        made[0] = _make_backup(db_path, keep, now)

    thread = threading.Thread(target=run, name="parley-backup")
    thread.start()
    thread.join()
    return made[0]


def _make_backup(db_path: Path, keep: int, now: float | None) -> Path | None:
    folder = db_path.parent / FOLDER
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now or time.time()))
    final = folder / f"{_PREFIX}{stamp}{_SUFFIX}"
    partial = folder / f".{final.name}.partial"
    try:
        folder.mkdir(mode=PRIVATE_DIR, exist_ok=True)
        needed = db_path.stat().st_size * 2 + (64 << 20)
        if shutil.disk_usage(folder).free < needed:
            logger.warning("no backup: %s needs %d bytes free", folder, needed)
            return None
        partial.unlink(missing_ok=True)
        source = sqlite3.connect(db_path)
        target = sqlite3.connect(partial)
        try:
            source.backup(target, pages=PAGES_PER_STEP, sleep=STEP_PAUSE_S)
            good = target.execute("PRAGMA quick_check").fetchone()[0] == "ok"
        finally:
            target.close()
            source.close()
        if not good:
            logger.warning("backup of %s failed its check; not kept", db_path)
            partial.unlink(missing_ok=True)
            return None
        os.chmod(partial, PRIVATE_FILE)  # a copy of every prompt: the owner's alone
        os.replace(partial, final)
    except (OSError, sqlite3.Error) as exc:
        logger.warning("backup of %s failed: %s", db_path, exc)
        partial.unlink(missing_ok=True)
        return None
    for old in backups(db_path)[keep:]:
        old.unlink(missing_ok=True)
    logger.info("backed up %s to %s", db_path, final)
    return final


def _lower_priority() -> None:
    """On Linux a thread is a task with its own nice value: let the window's go first
    (a backup of a 1,000,000-row ledger beside it doubled its longest stall here)."""
    if hasattr(os, "setpriority") and sys.platform.startswith("linux"):
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)


def restore(db_path: Path, backup: Path) -> Path:
    """Put `backup` in place of `db_path`; returns where the damaged file was moved.

    Raises OSError when the files can't be moved (the caller says so).
    """
    stamp = time.strftime("%Y%m%d-%H%M%S")
    aside = db_path.with_name(f"{db_path.name}.damaged-{stamp}")
    os.replace(db_path, aside)
    for suffix in ("-wal", "-shm"):  # they belong to the damaged file
        side = db_path.with_name(db_path.name + suffix)
        if side.exists():
            os.replace(side, aside.with_name(aside.name + suffix))
    db_path.with_name(db_path.name + ".damaged").unlink(missing_ok=True)
    shutil.copyfile(backup, db_path)
    logger.warning("restored %s from %s; the damaged file is %s", db_path, backup, aside)
    return aside
