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
)
