from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING

import pytest

from app.core.foundation.errors import DataDirError
from app.core.foundation.migrations import Migration, in_order
from app.core.foundation.storage import Database
from app.core.foundation.text_fold import fold
from app.core.schema import MIGRATIONS, SCHEMA_VERSION, open_database
from tests.foundation.released_schema import RELEASED

if TYPE_CHECKING:
    from pathlib import Path


def test_new_database_is_at_the_latest_schema_in_wal_mode(tmp_path: Path) -> None:
    db = open_database(tmp_path / "p.sqlite3")
    assert db.schema_version == SCHEMA_VERSION
    assert db.scalar("PRAGMA journal_mode") == "wal"
    assert db.scalar("PRAGMA foreign_keys") == 1
    db.close()


def test_reopening_keeps_data_and_does_not_migrate_again(tmp_path: Path) -> None:
    db = open_database(tmp_path / "p.sqlite3")
    db.execute("INSERT INTO settings (key, value) VALUES ('k', '1')")
    db.close()
    db = open_database(tmp_path / "p.sqlite3")
    assert db.scalar("SELECT value FROM settings WHERE key = 'k'") == "1"
    db.close()


def test_a_database_from_a_newer_parley_is_refused_with_a_hint(tmp_path: Path) -> None:
    path = tmp_path / "p.sqlite3"
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 5}")
    conn.close()
    with pytest.raises(DataDirError, match="newer Parley"):
        open_database(path)


def test_failed_transaction_rolls_back(tmp_path: Path) -> None:
    db = open_database(tmp_path / "p.sqlite3")

    def insert_then_fail() -> None:
        with db.transaction() as conn:
            conn.execute("INSERT INTO settings (key, value) VALUES ('a', '1')")
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        insert_then_fail()
    assert db.scalar("SELECT COUNT(*) FROM settings") == 0
    db.close()


# Each domain declares its own tables now (app.core.schema orders them); a database
# created by any released Parley must upgrade through the same SQL as before.


def _statements(script: str) -> list[str]:
    statements, pending = [], ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            statements.append(pending.strip())
            pending = ""
    assert not pending.strip()
    return statements


def _schema(conn: sqlite3.Connection) -> list[tuple[str, str, str, str | None]]:
    return conn.execute(
        "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name"
    ).fetchall()


def _released(path: Path, version: int) -> None:
    """A database as Parley's released scripts left it at `version`, with a little data."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.create_function("parley_fold", 1, fold, deterministic=True)
    for target, script in enumerate(RELEASED[:version]):
        conn.executescript(f"BEGIN; {script}; PRAGMA user_version = {target + 1}; COMMIT;")
    if version >= 1:
        conn.execute("INSERT INTO conversations (id, title, created_at, updated_at) "
                     "VALUES (1, 'Über', 0, 0)")  # fmt: skip
        conn.execute("INSERT INTO messages (conversation_id, position, role, content, "
                     "created_at) VALUES (1, 0, 'user', 'Äpfel', 0)")  # fmt: skip
        conn.execute(
            "INSERT INTO usage (created_at, conversation_id, message_id, backend, provider, "
            "model, prompt_tokens, completion_tokens, token_source, duration_s, outcome) "
            "VALUES (86400.5, 1, 1, 'm', 'mistral', 'small', 10, 5, 'reported', 1, 'done')"
        )
    if version >= 3:
        conn.execute("INSERT INTO providers (name, kind, base_url, key_host, created_at, "
                     "options_json) VALUES ('mi', 'mistral', 'https://api.mistral.ai/v1', "
                     "'https://api.mistral.ai:443', 5, '{\"models\": [\"a\"]}')")  # fmt: skip
    conn.close()


def test_each_released_version_runs_the_same_statements() -> None:
    assert len(MIGRATIONS) >= len(RELEASED)
    for version, (released, declared) in enumerate(zip(RELEASED, MIGRATIONS, strict=False)):
        # Versions 6 and 7 mixed domains: their statements now run grouped by domain.
        assert sorted(_statements(declared)) == sorted(_statements(released)), version + 1


def test_every_released_version_leaves_the_schema_it_left_before(tmp_path: Path) -> None:
    for version in range(1, len(RELEASED) + 1):
        _released(tmp_path / f"old{version}.sqlite3", version)
        db = Database(tmp_path / f"new{version}.sqlite3", MIGRATIONS[:version])
        db.close()
        old = sqlite3.connect(tmp_path / f"old{version}.sqlite3")
        new = sqlite3.connect(tmp_path / f"new{version}.sqlite3")
        assert _schema(new) == _schema(old), version
        old.close()
        new.close()


def test_a_database_from_any_released_version_upgrades_to_todays_schema(
    tmp_path: Path,
) -> None:
    fresh = open_database(tmp_path / "fresh.sqlite3")
    fresh.close()
    with sqlite3.connect(tmp_path / "fresh.sqlite3") as conn:
        expected = _schema(conn)
    for version in range(len(RELEASED) + 1):
        path = tmp_path / f"v{version}.sqlite3"
        _released(path, version)
        db = open_database(path)
        assert db.schema_version == SCHEMA_VERSION
        if version >= 1:
            assert db.scalar("SELECT COUNT(*) FROM usage") == 1
            assert db.scalar("SELECT requests FROM usage_daily") == 1
            assert db.scalar("SELECT rowid FROM messages_fts WHERE messages_fts MATCH 'apfel'")
        if version >= 3:
            assert tuple(db.query("SELECT * FROM providers")[0]) == (
                "mi", "mistral", "https://api.mistral.ai/v1", "", "",
                "https://api.mistral.ai:443", 5.0, '{"models": ["a"]}')  # fmt: skip
        db.close()
        with sqlite3.connect(path) as conn:
            assert _schema(conn) == expected, version


def test_a_provider_kind_needs_no_migration(tmp_path: Path) -> None:
    """Kinds are checked in Python (providers/kinds.py); schema 11 dropped the SQL CHECK."""
    db = open_database(tmp_path / "p.sqlite3")
    db.execute("INSERT INTO providers (name, kind, base_url, created_at) "
               "VALUES ('g', 'groq', 'https://api.groq.com/openai/v1', 0)")  # fmt: skip
    assert db.scalar("SELECT kind FROM providers") == "groq"
    db.close()


def test_versions_are_put_in_order_and_a_gap_is_refused() -> None:
    first = (Migration(1, "CREATE TABLE a (x);"), Migration(2, "CREATE TABLE c (x);"))
    second = (Migration(1, "CREATE TABLE b (x);"),)
    assert in_order(first, second) == ("CREATE TABLE a (x);CREATE TABLE b (x);",
                                       "CREATE TABLE c (x);")  # fmt: skip
    with pytest.raises(ValueError, match=r"\[2\]"):
        in_order((Migration(1, "CREATE TABLE a (x);"), Migration(3, "CREATE TABLE c (x);")))
    with pytest.raises(ValueError, match="mid-statement"):
        in_order((Migration(1, "CREATE TABLE a (x)"),))
