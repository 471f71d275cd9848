"""A separate read-only connection for long reads (charts, exports).

WAL lets it read while the app writes, so a 300 ms aggregate never holds the
shared connection's lock that a finishing chat turn needs.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from app.core.foundation.storage import Database


def read_connection(db: Database) -> sqlite3.Connection:
    if not isinstance(db.path, Path):  # ":memory:": only the shared connection sees it
        raise ValueError("read_connection needs a database file")
    conn = sqlite3.connect(
        f"file:{db.path}?mode=ro", uri=True, check_same_thread=False, timeout=10.0
    )
    conn.execute("PRAGMA query_only = ON")
    return conn
