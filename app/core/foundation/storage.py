"""SQLite storage: one connection per `Database`, WAL, foreign keys, versioned schema.

Migrations are keyed on `PRAGMA user_version`: `MIGRATIONS[i]` takes the schema
from version i to i + 1. Append new ones; never edit a released one.
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
from app.core.foundation.text_fold import fold

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

logger = logging.getLogger(__name__)


def _local_day(ts: str) -> str:
    """SQL for the local calendar day of unix time `ts`, as days since 1970-01-01.

    `date(…, 'localtime')` applies the offset in force at that instant (DST
    included); going through the date string keeps midnight exact."""
    return f"CAST(strftime('%s', date({ts}, 'unixepoch', 'localtime')) AS INTEGER) / 86400"


def _daily_key(row: str) -> str:
    return (f"day = COALESCE({row}.local_day, {_local_day(row + '.created_at')}) "
            f"AND provider = {row}.provider AND model = {row}.model "
            f"AND backend = {row}.backend AND project = COALESCE({row}.project, '') "
            f"AND currency = COALESCE({row}.currency, '')")  # fmt: skip


def _saving(row: str) -> str:
    return (f"CASE WHEN {row}.backend = 'local' THEN COALESCE({row}.compare_cost - {row}.cost, 0) "
            "ELSE 0 END")  # fmt: skip


def _daily_add(row: str) -> str:
    return (
        "INSERT INTO usage_daily (day, provider, model, backend, project, currency, cost, "
        "tokens, requests, unpriced, saving) VALUES ("
        f"COALESCE({row}.local_day, {_local_day(row + '.created_at')}), {row}.provider, "
        f"{row}.model, {row}.backend, COALESCE({row}.project, ''), "
        f"COALESCE({row}.currency, ''), COALESCE({row}.cost, 0), "
        f"{row}.prompt_tokens + {row}.completion_tokens, 1, {row}.cost IS NULL, {_saving(row)}) "
        "ON CONFLICT DO UPDATE SET cost = cost + excluded.cost, tokens = tokens + excluded.tokens, "
        "requests = requests + 1, unpriced = unpriced + excluded.unpriced, "
        "saving = saving + excluded.saving;"
    )


def _daily_remove(row: str) -> str:
    key = _daily_key(row)
    return (
        f"UPDATE usage_daily SET cost = cost - COALESCE({row}.cost, 0), "
        f"tokens = tokens - ({row}.prompt_tokens + {row}.completion_tokens), "
        f"requests = requests - 1, unpriced = unpriced - ({row}.cost IS NULL), "
        f"saving = saving - {_saving(row)} WHERE {key};"
        f" DELETE FROM usage_daily WHERE requests <= 0 AND {key};"
    )


MIGRATIONS: tuple[str, ...] = (
    # 0 -> 1: conversations, messages, usage ledger, settings
    """
    CREATE TABLE conversations (
        id INTEGER PRIMARY KEY,
        title TEXT NOT NULL,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        system_prompt TEXT NOT NULL DEFAULT '',
        sampling_json TEXT NOT NULL DEFAULT '{}',
        target TEXT NOT NULL DEFAULT '',
        project TEXT,
        local_only INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX conversations_updated ON conversations(updated_at DESC);
    CREATE TABLE messages (
        id INTEGER PRIMARY KEY,
        conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
        position INTEGER NOT NULL,
        role TEXT NOT NULL CHECK (role IN ('user', 'assistant')),
        content TEXT NOT NULL,
        created_at REAL NOT NULL,
        backend TEXT,
        provider TEXT,
        model TEXT,
        outcome TEXT,
        error TEXT,
        prompt_tokens INTEGER,
        completion_tokens INTEGER,
        token_source TEXT,
        ttft_s REAL,
        duration_s REAL,
        trimmed_turns INTEGER NOT NULL DEFAULT 0,
        writer_pid INTEGER,
        UNIQUE (conversation_id, position)
    );
    CREATE INDEX messages_streaming ON messages(outcome) WHERE outcome = 'streaming';
    CREATE TABLE usage (
        id INTEGER PRIMARY KEY,
        created_at REAL NOT NULL,
        conversation_id INTEGER REFERENCES conversations(id) ON DELETE SET NULL,
        message_id INTEGER REFERENCES messages(id) ON DELETE SET NULL,
        backend TEXT NOT NULL,
        provider TEXT NOT NULL,
        model TEXT NOT NULL,
        prompt_tokens INTEGER NOT NULL,
        completion_tokens INTEGER NOT NULL,
        token_source TEXT NOT NULL,
        ttft_s REAL,
        duration_s REAL NOT NULL,
        outcome TEXT NOT NULL,
        request_id TEXT,
        project TEXT,
        tag TEXT
    );
    CREATE INDEX usage_created ON usage(created_at);
    CREATE INDEX usage_conversation ON usage(conversation_id);
    CREATE TABLE settings (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    """,
    # issue 6: billing
    """
    ALTER TABLE usage ADD COLUMN cost REAL;
    ALTER TABLE usage ADD COLUMN currency TEXT;
    ALTER TABLE usage ADD COLUMN cost_source TEXT NOT NULL DEFAULT 'no price';
    ALTER TABLE usage ADD COLUMN price_input REAL;
    ALTER TABLE usage ADD COLUMN price_output REAL;
    ALTER TABLE usage ADD COLUMN energy_wh REAL;
    ALTER TABLE usage ADD COLUMN compare_cost REAL;
    CREATE TABLE prices (
        provider TEXT NOT NULL,
        model TEXT NOT NULL,
        input REAL NOT NULL,
        output REAL NOT NULL,
        cached_input REAL,
        currency TEXT NOT NULL,
        source TEXT NOT NULL,
        date TEXT NOT NULL,
        user_override INTEGER NOT NULL DEFAULT 1,
        PRIMARY KEY (provider, model)
    );
    CREATE TABLE budgets (
        id INTEGER PRIMARY KEY,
        scope TEXT NOT NULL CHECK (scope IN ('all', 'provider', 'project')),
        name TEXT NOT NULL DEFAULT '',
        period TEXT NOT NULL CHECK (period IN ('day', 'month')),
        amount REAL NOT NULL,
        currency TEXT NOT NULL,
        hard INTEGER NOT NULL DEFAULT 0,
        warn_at REAL NOT NULL DEFAULT 0.8,
        UNIQUE (scope, name, period)
    );
    -- Covering index: every Billing chart is one range scan that never touches the table.
    CREATE INDEX usage_billing ON usage(created_at, currency, provider, backend, model,
        project, cost, prompt_tokens, completion_tokens, compare_cost);
    CREATE INDEX usage_provider_created ON usage(provider, created_at);
    CREATE INDEX usage_project_created ON usage(project, created_at);
    CREATE INDEX usage_unpriced ON usage(provider, model) WHERE cost_source = 'no price';
    """,
    # issue 4: providers (configs only: keys live in the OS keyring, never here)
    """
    CREATE TABLE providers (
        name TEXT PRIMARY KEY,
        kind TEXT NOT NULL CHECK (kind IN ('hf', 'mistral', 'openai')),
        base_url TEXT NOT NULL,
        model TEXT NOT NULL DEFAULT '',
        hf_provider TEXT NOT NULL DEFAULT '',
        key_host TEXT,
        created_at REAL NOT NULL,
        options_json TEXT NOT NULL DEFAULT '{}'
    );
    """,
    # issue 5: downloads
    """
    CREATE TABLE downloads (
        id INTEGER PRIMARY KEY,
        repo TEXT NOT NULL,
        path TEXT NOT NULL,
        revision TEXT NOT NULL DEFAULT 'main',
        size INTEGER NOT NULL DEFAULT 0,
        done INTEGER NOT NULL DEFAULT 0,
        state TEXT NOT NULL
            CHECK (state IN ('queued', 'running', 'paused', 'done', 'failed', 'cancelled')),
        error TEXT,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        UNIQUE (repo, revision, path)
    );
    """,
    # issue 7: comparisons (one prompt, several targets, side by side)
    """
    CREATE TABLE comparisons (
        id INTEGER PRIMARY KEY,
        created_at REAL NOT NULL,
        prompt TEXT NOT NULL,
        system_prompt TEXT NOT NULL DEFAULT '',
        sampling_json TEXT NOT NULL DEFAULT '{}'
    );
    CREATE TABLE comparison_columns (
        comparison_id INTEGER NOT NULL REFERENCES comparisons(id) ON DELETE CASCADE,
        position INTEGER NOT NULL,
        target TEXT NOT NULL,
        text TEXT NOT NULL DEFAULT '',
        outcome TEXT NOT NULL DEFAULT 'waiting',
        error TEXT,
        model TEXT,
        provider TEXT,
        prompt_tokens INTEGER,
        completion_tokens INTEGER,
        token_source TEXT,
        ttft_s REAL,
        duration_s REAL,
        usage_id INTEGER REFERENCES usage(id) ON DELETE SET NULL,
        PRIMARY KEY (comparison_id, position)
    );
    """,
    # issue 14: the bill as paid. Each row keeps the id it asked for and the price's source
    # and date, and its own local calendar day (DST included); a daily roll-up kept in step
    # by triggers answers a year of Billing in a few thousand rows; projects name who pays.
    f"""
    ALTER TABLE usage ADD COLUMN requested_model TEXT;
    ALTER TABLE usage ADD COLUMN price_source TEXT;
    ALTER TABLE usage ADD COLUMN price_date TEXT;
    ALTER TABLE usage ADD COLUMN local_day INTEGER;
    UPDATE usage SET local_day = {_local_day("created_at")};
    CREATE TRIGGER usage_local_day AFTER INSERT ON usage WHEN NEW.local_day IS NULL BEGIN
        UPDATE usage SET local_day = {_local_day("NEW.created_at")} WHERE id = NEW.id;
    END;
    CREATE TABLE usage_daily (
        day INTEGER NOT NULL,
        provider TEXT NOT NULL,
        model TEXT NOT NULL,
        backend TEXT NOT NULL,
        project TEXT NOT NULL,
        currency TEXT NOT NULL,
        cost REAL NOT NULL DEFAULT 0,
        tokens INTEGER NOT NULL DEFAULT 0,
        requests INTEGER NOT NULL DEFAULT 0,
        unpriced INTEGER NOT NULL DEFAULT 0,
        saving REAL NOT NULL DEFAULT 0,
        PRIMARY KEY (day, provider, model, backend, project, currency)
    ) WITHOUT ROWID;
    INSERT INTO usage_daily
        SELECT local_day, provider, model, backend, COALESCE(project, ''),
            COALESCE(currency, ''), COALESCE(SUM(cost), 0),
            SUM(prompt_tokens + completion_tokens), COUNT(*), COUNT(*) - COUNT(cost),
            COALESCE(SUM(CASE WHEN backend = 'local' THEN compare_cost - cost END), 0)
        FROM usage GROUP BY 1, 2, 3, 4, 5, 6;
    CREATE TRIGGER usage_daily_insert AFTER INSERT ON usage BEGIN
        {_daily_add("NEW")}
    END;
    CREATE TRIGGER usage_daily_delete AFTER DELETE ON usage BEGIN
        {_daily_remove("OLD")}
    END;
    CREATE TRIGGER usage_daily_update AFTER UPDATE OF created_at, provider, model, backend,
        project, currency, cost, prompt_tokens, completion_tokens, compare_cost ON usage BEGIN
        {_daily_remove("OLD")}
        {_daily_add("NEW")}
    END;
    CREATE TABLE projects (
        name TEXT PRIMARY KEY,
        hf_bill_to TEXT,
        created_at REAL NOT NULL
    );
    """,
    # issue 16: the gateway's clients and access tokens; why a routed answer went where it did
    """
    ALTER TABLE usage ADD COLUMN client TEXT;
    ALTER TABLE usage ADD COLUMN route TEXT;
    ALTER TABLE messages ADD COLUMN route TEXT;
    CREATE INDEX usage_target ON usage(backend, model, created_at);
    CREATE INDEX usage_backend ON usage(backend, created_at);
    CREATE TABLE gateway_tokens (
        id INTEGER PRIMARY KEY,
        label TEXT NOT NULL,
        project TEXT,
        sha256 TEXT NOT NULL UNIQUE,
        created_at REAL NOT NULL,
        revoked_at REAL
    );
    """,
    # issue 15: the writer's start time (a reused pid is not the writer); full-text search
    # over folded text (see text_fold.py), kept in step with the tables by triggers.
    """
    ALTER TABLE messages ADD COLUMN writer_started REAL;
    CREATE VIRTUAL TABLE messages_fts USING fts5(
        content, tokenize='unicode61 remove_diacritics 2'
    );
    CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
        INSERT INTO messages_fts (rowid, content) VALUES (new.id, parley_fold(new.content));
    END;
    CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
        DELETE FROM messages_fts WHERE rowid = old.id;
    END;
    CREATE TRIGGER messages_fts_update AFTER UPDATE OF content ON messages BEGIN
        UPDATE messages_fts SET content = parley_fold(new.content) WHERE rowid = new.id;
    END;
    INSERT INTO messages_fts (rowid, content) SELECT id, parley_fold(content) FROM messages;
    CREATE VIRTUAL TABLE conversations_fts USING fts5(
        title, tokenize='unicode61 remove_diacritics 2'
    );
    CREATE TRIGGER conversations_fts_insert AFTER INSERT ON conversations BEGIN
        INSERT INTO conversations_fts (rowid, title) VALUES (new.id, parley_fold(new.title));
    END;
    CREATE TRIGGER conversations_fts_delete AFTER DELETE ON conversations BEGIN
        DELETE FROM conversations_fts WHERE rowid = old.id;
    END;
    CREATE TRIGGER conversations_fts_update AFTER UPDATE OF title ON conversations BEGIN
        UPDATE conversations_fts SET title = parley_fold(new.title) WHERE rowid = new.id;
    END;
    INSERT INTO conversations_fts (rowid, title) SELECT id, parley_fold(title) FROM conversations;
    """,
    # issue 17: folders and pinning for conversations; files attached to a user message
    # (text as read, images as their bytes), kept and exported with the conversation.
    """
    CREATE TABLE folders (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        created_at REAL NOT NULL
    );
    ALTER TABLE conversations ADD COLUMN folder_id INTEGER
        REFERENCES folders(id) ON DELETE SET NULL;
    ALTER TABLE conversations ADD COLUMN pinned INTEGER NOT NULL DEFAULT 0;
    CREATE TABLE attachments (
        id INTEGER PRIMARY KEY,
        message_id INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
        position INTEGER NOT NULL,
        name TEXT NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('text', 'image')),
        mime TEXT NOT NULL,
        language TEXT NOT NULL DEFAULT '',
        text TEXT NOT NULL DEFAULT '',
        data BLOB,
        tokens INTEGER NOT NULL DEFAULT 0,
        UNIQUE (message_id, position)
    );
    """,
    # issue 21: what running requests may still spend, held against budgets until each is
    # settled into a usage row (one transaction) or released; a dead process's are reaped.
    """
    CREATE TABLE reservations (
        id INTEGER PRIMARY KEY,
        started_at REAL NOT NULL,
        pid INTEGER NOT NULL,
        pid_started REAL,
        backend TEXT NOT NULL,
        provider TEXT NOT NULL,
        project TEXT,
        amount REAL,
        currency TEXT
    );
    CREATE INDEX reservations_backend ON reservations(backend);
    """,
)

SCHEMA_VERSION = len(MIGRATIONS)


class Database:
    """A thread-safe SQLite connection.

    One connection guarded by a lock: the GUI reads and a worker's periodic
    checkpoint writes are each well under a millisecond, so a second
    connection per thread would buy nothing but WAL bookkeeping.
    """

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path) if str(path) != ":memory:" else path
        self._lock = threading.RLock()
        if isinstance(self.path, Path):
            # Before SQLite touches it: a newer Parley's database is left exactly as it is.
            version = header_version(self.path)
            if version is not None and version > SCHEMA_VERSION:
                raise self._newer(version)
        try:
            self._conn = sqlite3.connect(
                str(path), check_same_thread=False, isolation_level=None, timeout=10.0
            )
            self._conn.row_factory = sqlite3.Row
            # The search index's triggers fold text with it (schema 8).
            self._conn.create_function("parley_fold", 1, fold, deterministic=True)
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
            f"this one knows up to {SCHEMA_VERSION}). It was left untouched.",
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
        if version > SCHEMA_VERSION:  # the header said otherwise: a write-ahead log moved it
            raise self._newer(version)
        for target in range(version, SCHEMA_VERSION):
            logger.info("migrating database schema %d -> %d", target, target + 1)
            # executescript commits any open transaction first, so the script
            # carries its own BEGIN/COMMIT: schema and version move together.
            with self._lock:
                try:
                    self._conn.executescript(
                        f"BEGIN IMMEDIATE; {MIGRATIONS[target]}; "
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
