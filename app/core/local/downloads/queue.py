"""The downloads queue, kept in SQLite so it survives a restart (bytes live in the partial file)."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import sqlite3

    from app.core.foundation.storage import Database


class DownloadState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    PAUSED = "paused"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


ACTIVE = (DownloadState.QUEUED, DownloadState.RUNNING)


@dataclass(frozen=True, slots=True)
class DownloadEntry:
    id: int
    repo: str
    path: str  # the file the user chose (first part of a split model)
    revision: str
    size: int
    done: int
    state: DownloadState
    error: str | None
    created_at: float
    updated_at: float

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1]

    def to_dict(self) -> dict[str, object]:
        return asdict(self) | {"state": str(self.state)}


def _entry(row: sqlite3.Row) -> DownloadEntry:
    return DownloadEntry(
        row["id"], row["repo"], row["path"], row["revision"], row["size"], row["done"],
        DownloadState(row["state"]), row["error"], row["created_at"], row["updated_at"],
    )  # fmt: skip


class DownloadQueue:
    def __init__(self, db: Database) -> None:
        self.db = db

    def add(self, repo: str, path: str, size: int = 0, revision: str = "main") -> DownloadEntry:
        """Queue a file (again): an existing entry for it is reused, keeping its bytes done."""
        now = time.time()
        self.db.execute(
            "INSERT INTO downloads (repo, path, revision, size, state, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, 'queued', ?, ?) ON CONFLICT (repo, revision, path) DO UPDATE "
            "SET state = 'queued', error = NULL, size = excluded.size, "
            "updated_at = excluded.updated_at",
            (repo, path, revision, size, now, now),
        )
        row = self.db.query(
            "SELECT * FROM downloads WHERE repo = ? AND revision = ? AND path = ?",
            (repo, revision, path),
        )
        return _entry(row[0])

    def get(self, download_id: int) -> DownloadEntry | None:
        rows = self.db.query("SELECT * FROM downloads WHERE id = ?", (download_id,))
        return _entry(rows[0]) if rows else None

    def entries(self) -> list[DownloadEntry]:
        return [_entry(r) for r in self.db.query("SELECT * FROM downloads ORDER BY id")]

    def set_state(self, download_id: int, state: DownloadState, error: str | None = None) -> None:
        self.db.execute(
            "UPDATE downloads SET state = ?, error = ?, updated_at = ? WHERE id = ?",
            (str(state), error, time.time(), download_id),
        )

    def set_progress(self, download_id: int, done: int, size: int) -> None:
        self.db.execute(
            "UPDATE downloads SET done = ?, size = ?, updated_at = ? WHERE id = ?",
            (done, size, time.time(), download_id),
        )

    def remove(self, download_id: int) -> None:
        self.db.execute("DELETE FROM downloads WHERE id = ?", (download_id,))

    def clear_finished(self) -> None:
        self.db.execute("DELETE FROM downloads WHERE state IN ('done', 'cancelled')")

    def recover(self) -> list[DownloadEntry]:
        """After a restart: downloads that were running are paused; return those to resume."""
        self.db.execute(
            "UPDATE downloads SET state = 'queued', updated_at = ? WHERE state = 'running'",
            (time.time(),),
        )
        return [e for e in self.entries() if e.state in ACTIVE]
