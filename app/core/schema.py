"""The database's schema: each domain's tables, put in the order they were released.

The domains declare their own tables and upgrades (`chat/schema.py`,
`billing/schema.py`, ...); the foundation only runs numbered scripts
(`foundation/migrations.py`, `foundation/storage.py`) and may import no domain, so the
list lives here, above them all, and everything that opens the database opens it
through `open_database`.

Within one version the parts run in this order (tables others refer to come first:
usage points at chat's conversations and messages). Version 6 and 7 mixed domains;
their statements now run grouped by domain, which leaves the same schema (the
statements are independent; tests/foundation/test_storage.py compares every version
with the scripts as released).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from app.core.billing.schema import SCHEMA as BILLING
from app.core.chat.schema import SCHEMA as CHAT
from app.core.foundation.migrations import in_order
from app.core.foundation.settings import SCHEMA as SETTINGS
from app.core.foundation.storage import Database
from app.core.gateway.schema import SCHEMA as GATEWAY
from app.core.local.downloads.schema import SCHEMA as DOWNLOADS
from app.core.providers._schema import SCHEMA as PROVIDERS

if TYPE_CHECKING:
    from pathlib import Path

MIGRATIONS: tuple[str, ...] = in_order(GATEWAY, CHAT, DOWNLOADS, PROVIDERS, BILLING, SETTINGS)
SCHEMA_VERSION = len(MIGRATIONS)


def open_database(path: Path | str) -> Database:
    """Parley's database at `path` (or ":memory:"), created or upgraded to `SCHEMA_VERSION`."""
    return Database(path, MIGRATIONS)
