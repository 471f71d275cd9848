"""SQLite storage: one connection per `Database`, WAL, foreign keys, versioned schema.

Migrations are keyed on `PRAGMA user_version`: `migrations[i]` takes the schema
from version i to i + 1. The domains declare them and `app.core.schema` orders them
(see `migrations.py`); this module runs whatever scripts it is given.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.core.foundation.db_errors import (
    DAMAGED_SUFFIX,
    NewerSchemaError,
    corrupt,
    header_version,
    translate,
)
from app.core.foundation.errors import DataDirError
from app.core.foundation.text_fold import fold_for_search

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

logger = logging.getLogger(__name__)


class Database:
    """A thread-safe SQLite connection.

    One connection guarded by a lock: the GUI reads and a worker's periodic
    checkpoint writes are each well under a millisecond, so a second
    connection per thread would buy nothing but WAL bookkeeping.
    """

    def __init__(self, path: Path | str, migrations: Sequence[str]) -> None:
        """Open `path`, creating it or upgrading it with `migrations` (app.core.schema's
        `open_database` gives Parley's)."""
        self.path = Path(path) if str(path) != ":memory:" else path
        self._lock = threading.RLock()
        self._migrations = tuple(migrations)
        self.latest_version = len(self._migrations)
        if isinstance(self.path, Path):
            # Before SQLite touches it: a newer Parley's database is left exactly as it is.
            version = header_version(self.path)
            if version is not None and version > self.latest_version:
                raise self._newer(version)
        try:
            self._conn = sqlite3.connect(
                str(path), check_same_thread=False, isolation_level=None, timeout=10.0
            )
            self._conn.row_factory = sqlite3.Row
            # The search index's triggers fold text with it (schema 8).
            self._conn.create_function("parley_fold", 1, fold_for_search, deterministic=True)
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.execute("PRAGMA foreign_keys=ON")
            self._check_if_marked_damaged()
            self._migrate()
        except sqlite3.Error as exc:
            known = translate(exc, path)
            if known is None:
                raise DataDirError(
                    f"Parley can't open its database {path} ({exc}).",
                    "Check that the data folder is writable and the disk is not full.",
                ) from exc
            raise known from exc

    def _newer(self, version: int) -> NewerSchemaError:
        return NewerSchemaError(
            f"The database {self.path} was written by a newer Parley (schema {version}; "
            f"this one knows up to {self.latest_version}). It was left untouched.",
            "Update Parley, or point PARLEY_DATA_DIR at another folder.",
        )

    def _check_if_marked_damaged(self) -> None:
        """A query found damage last time: check the whole file before going on."""
        if not isinstance(self.path, Path):
            return
        marker = self.path.with_name(self.path.name + DAMAGED_SUFFIX)
        if marker.exists():
            result = self._conn.execute("PRAGMA quick_check").fetchone()[0]
            if result != "ok":
                raise corrupt(self.path, str(result))
            marker.unlink(missing_ok=True)

    def _migrate(self) -> None:
        version = int(self._conn.execute("PRAGMA user_version").fetchone()[0])
        if version > self.latest_version:  # the header said otherwise: a write-ahead log moved it
            raise self._newer(version)
        for target in range(version, self.latest_version):
            logger.info("migrating database schema %d -> %d", target, target + 1)
            # executescript commits any open transaction first, so the script
            # carries its own BEGIN/COMMIT: schema and version move together.
            with self._lock:
                try:
                    self._conn.executescript(
                        f"BEGIN IMMEDIATE; {self._migrations[target]}; "
                        f"PRAGMA user_version = {target + 1}; COMMIT;"
                    )
                except sqlite3.Error:
                    if self._conn.in_transaction:
                        self._conn.execute("ROLLBACK")
                    raise

    @property
    def schema_version(self) -> int:
        return int(self.scalar("PRAGMA user_version"))

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock, self._translated():
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                # A full disk may have rolled the transaction back already.
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                raise
            else:
                self._conn.execute("COMMIT")

    def execute(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> sqlite3.Cursor:
        with self._lock, self._translated():
            return self._conn.execute(sql, params)

    def query(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[sqlite3.Row]:
        with self._lock, self._translated():
            return self._conn.execute(sql, params).fetchall()

    def scalar(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> Any:
        with self._lock, self._translated():
            row = self._conn.execute(sql, params).fetchone()
        return None if row is None else row[0]

    @contextmanager
    def _translated(self) -> Iterator[None]:
        """A full disk, a damaged file or a read-only folder become clear `DataDirError`s."""
        try:
            yield
        except sqlite3.Error as exc:
            known = translate(exc, self.path)
            if known is None:
                raise
            if isinstance(self.path, Path) and "damaged" in known.message:
                # Checked whole at the next start, which then offers a backup.
                self.path.with_name(self.path.name + DAMAGED_SUFFIX).touch()
            raise known from exc

    def close(self) -> None:
        with self._lock:
            self._conn.close()
