"""The gateway's access tokens (only their SHA-256 is stored).

Each `Migration` is this domain's part of a numbered schema version (see
`app.core.foundation.migrations`); released ones are never edited.
"""

from __future__ import annotations

from app.core.foundation.migrations import Migration

SCHEMA: tuple[Migration, ...] = (
    # issue 16: the gateway's clients and access tokens
    Migration(7, """
    CREATE TABLE gateway_tokens (
        id INTEGER PRIMARY KEY,
        label TEXT NOT NULL,
        project TEXT,
        sha256 TEXT NOT NULL UNIQUE,
        created_at REAL NOT NULL,
        revoked_at REAL
    );
    """),
)
