"""The downloads queue's table: it survives restarts, so a transfer resumes.

Each `Migration` is this domain's part of a numbered schema version (see
`app.core.foundation.migrations`); released ones are never edited.
"""

from __future__ import annotations

from app.core.foundation.migrations import Migration

SCHEMA: tuple[Migration, ...] = (
    # issue 5: downloads
    Migration(4, """
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
    """),
)
