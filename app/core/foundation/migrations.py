"""Numbered schema upgrades, declared by each domain and put in order here.

Each domain declares its own tables as `Migration`s: the SQL that takes its part of
the database to `version`, as qutebrowser's `WebHistory(sql.SqlTable)` declares its
table over a generic `misc/sql.py`. `in_order` makes one script per version from the
domains' parts; `Database` runs the scripts it is given, keyed on `PRAGMA user_version`.
The foundation imports no domain: `app.core.schema` collects them.

A version is released once: append new migrations, never edit a released one (a
database created by an older Parley must upgrade through the same SQL).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence


@dataclass(frozen=True, slots=True)
class Migration:
    """One domain's part of a schema upgrade: `sql` runs when the database goes from
    `version - 1` to `version` (the first version is 1)."""

    version: int
    sql: str


def in_order(*domains: Sequence[Migration]) -> tuple[str, ...]:
    """One script per version, `scripts[i]` taking the database from i to i + 1.

    Within a version, the parts run in the order the domains are given; a version no
    domain declares is a bug (a gap would leave databases at different schemas)."""
    parts: dict[int, list[str]] = {}
    for domain in domains:
        for migration in domain:
            if migration.version < 1:
                raise ValueError(f"schema version {migration.version} is not 1 or more")
            if not sqlite3.complete_statement(migration.sql):
                # Parts are joined as they are: each must end its last statement itself.
                raise ValueError(f"schema {migration.version}: a part ends mid-statement")
            parts.setdefault(migration.version, []).append(migration.sql)
    latest = max(parts, default=0)
    if missing := sorted(set(range(1, latest + 1)) - parts.keys()):
        raise ValueError(f"no domain declares schema version(s) {missing}")
    return tuple("".join(parts[version]) for version in range(1, latest + 1))
