"""User settings, stored as JSON values in the database's `settings` table."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from app.core.foundation.migrations import Migration

if TYPE_CHECKING:
    from app.core.foundation.storage import Database

ACTIVE_MODEL = "active_model"
# Each local model's load controls live under "local.model.<name>"
# (app.core.local.model_controls); the old machine-wide "local.n_gpu_layers" and
# "local.n_threads" were never read and are gone.
OFFLINE_MODE = "privacy.offline_mode"  # bool: issue 4, no network traffic at all
DEFAULT_TARGET = "chat.default_target"  # "backend:model" for new conversations; "" = active model
WINDOW_STATE = "window.state"  # issue 17: geometry, splitters and last tab (base64 / ints)

SCHEMA: tuple[Migration, ...] = (
    # the foundation's own table (see app.core.foundation.migrations)
    Migration(1, """
    CREATE TABLE settings (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    """),
)


class Settings:
    def __init__(self, db: Database) -> None:
        self.db = db

    def get(self, key: str, default: Any = None) -> Any:
        raw = self.db.scalar("SELECT value FROM settings WHERE key = ?", (key,))
        return default if raw is None else json.loads(raw)

    def set(self, key: str, value: Any) -> None:
        self.db.execute(
            "INSERT INTO settings (key, value) VALUES (?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, json.dumps(value)),
        )

    def delete(self, key: str) -> None:
        self.db.execute("DELETE FROM settings WHERE key = ?", (key,))
