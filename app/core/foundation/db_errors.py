"""What SQLite's failures mean for the user: a full disk, a damaged file, a newer Parley.

SQLite says why a statement failed in its error name (`SQLITE_FULL`,
`SQLITE_CORRUPT`, ...; Python 3.11+ puts it on the exception). Those that come
from the machine, not from a bug in Parley, become `DataDirError`s with a
message and what to do next; anything else stays the bug it is.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from app.core.foundation.errors import DataDirError

if TYPE_CHECKING:
    import sqlite3

SQLITE_MAGIC = b"SQLite format 3\x00"
FULL_BELOW = 4 << 20  # bytes free under which an I/O error is taken for a full disk
# A marker beside the database: a query found it damaged, so the next start checks it whole.
DAMAGED_SUFFIX = ".damaged"


class DiskFullError(DataDirError):
    """The disk (or the quota) holding the data folder is full."""


class CorruptDatabaseError(DataDirError):
    """The database file is damaged; `path` says which (backups may restore it)."""

    def __init__(self, path: Path, message: str, hint: str = "") -> None:
        self.path = path
        super().__init__(message, hint)


class NewerSchemaError(DataDirError):
    """The database was written by a newer Parley; it was not opened for writing."""


def header_version(path: Path) -> int | None:
    """`user_version` from the file's header (bytes 60-63), read without opening SQLite.

    None for a missing or empty file; raises `CorruptDatabaseError` for a file
    that is not an SQLite database at all.
    """
    try:
        with path.open("rb") as f:
            header = f.read(100)
    except FileNotFoundError:
        return None
    if not header:
        return None
    if len(header) < 100 or not header.startswith(SQLITE_MAGIC):
        raise corrupt(path, "it is not an SQLite database any more")
    return int.from_bytes(header[60:64], "big")


def corrupt(path: Path, why: str) -> CorruptDatabaseError:
    return CorruptDatabaseError(
        path,
        f"Parley's database {path} is damaged ({why}).",
        "Parley keeps daily backups: start the window to restore the newest good one.",
    )


def translate(exc: sqlite3.Error, path: Path | str) -> DataDirError | None:
    """The user-facing error for `exc`, or None when it is not the machine's doing."""
    name = getattr(exc, "sqlite_errorname", "") or ""
    text = str(exc)
    # A full disk often shows as an I/O error (the write-ahead log's index can't grow).
    io_on_full_disk = name.startswith("SQLITE_IOERR") and _nearly_full(Path(path))
    if name == "SQLITE_FULL" or "database or disk is full" in text or io_on_full_disk:
        return DiskFullError(
            f"The disk holding Parley's data ({path}) is full: this could not be saved.",
            "Free some space and try again; everything saved before is kept.",
        )
    if name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")) or "malformed" in text:
        return corrupt(Path(path), text)
    if name.startswith("SQLITE_READONLY") or "readonly database" in text:
        return DataDirError(
            f"Parley can't write to its database {path}: it or its folder is read-only.",
            "Make the data folder writable, or point PARLEY_DATA_DIR at one you own.",
        )
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
        return DataDirError(
            f"Parley's database {path} is busy: another program kept it locked too long.",
            "Try again in a moment.",
        )
    if name.startswith(("SQLITE_IOERR", "SQLITE_CANTOPEN", "SQLITE_PERM")):
        return DataDirError(
            f"Parley can't read or write its database {path} ({text}).",
            "Check the disk and that the data folder is writable, then try again.",
        )
    return None


def _nearly_full(path: Path) -> bool:
    try:
        return shutil.disk_usage(path.parent).free < FULL_BELOW
    except OSError:
        return False
