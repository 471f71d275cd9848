"""The providers table: configurations only (keys live in the OS keyring, never here).

Each `Migration` is this domain's part of a numbered schema version (see
`app.core.foundation.migrations`); released ones are never edited.
"""

from __future__ import annotations

from app.core.foundation.migrations import Migration

SCHEMA: tuple[Migration, ...] = (
    # issue 4: providers
    Migration(3, """
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
    """),
    # Kinds are rows of providers/kinds.py, checked in Python: a new kind needs no
    # migration. The table is rebuilt without version 3's CHECK (kind IN (...)), as
    # SQLite's ALTER TABLE documentation describes (nothing refers to this table).
    Migration(11, """
    CREATE TABLE providers_new (
        name TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        base_url TEXT NOT NULL,
        model TEXT NOT NULL DEFAULT '',
        hf_provider TEXT NOT NULL DEFAULT '',
        key_host TEXT,
        created_at REAL NOT NULL,
        options_json TEXT NOT NULL DEFAULT '{}'
    );
    INSERT INTO providers_new (name, kind, base_url, model, hf_provider, key_host, created_at,
        options_json)
        SELECT name, kind, base_url, model, hf_provider, key_host, created_at, options_json
        FROM providers;
    DROP TABLE providers;
    ALTER TABLE providers_new RENAME TO providers;
    """),
)
