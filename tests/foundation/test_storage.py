from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING

import pytest

from app.core.foundation.errors import DataDirError
from app.core.foundation.storage import SCHEMA_VERSION, Database

if TYPE_CHECKING:
    from pathlib import Path


def test_new_database_is_at_the_latest_schema_in_wal_mode(tmp_path: Path) -> None:
    db = Database(tmp_path / "p.sqlite3")
    assert db.schema_version == SCHEMA_VERSION
    assert db.scalar("PRAGMA journal_mode") == "wal"
    assert db.scalar("PRAGMA foreign_keys") == 1
    db.close()


def test_reopening_keeps_data_and_does_not_migrate_again(tmp_path: Path) -> None:
    db = Database(tmp_path / "p.sqlite3")
    db.execute("INSERT INTO settings (key, value) VALUES ('k', '1')")
    db.close()
    db = Database(tmp_path / "p.sqlite3")
    assert db.scalar("SELECT value FROM settings WHERE key = 'k'") == "1"
    db.close()


def test_a_database_from_a_newer_parley_is_refused_with_a_hint(tmp_path: Path) -> None:
    path = tmp_path / "p.sqlite3"
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 5}")
    conn.close()
    with pytest.raises(DataDirError, match="newer Parley"):
        Database(path)


def test_failed_transaction_rolls_back(tmp_path: Path) -> None:
    db = Database(tmp_path / "p.sqlite3")

    def insert_then_fail() -> None:
        with db.transaction() as conn:
            conn.execute("INSERT INTO settings (key, value) VALUES ('a', '1')")
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        insert_then_fail()
    assert db.scalar("SELECT COUNT(*) FROM settings") == 0
    db.close()
