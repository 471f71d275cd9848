"""The usage ledger's columns, declared once.

`UsageRow` is the declaration: each field is a column of the `usage` table, with
its SQL type as billing/schema.py created it, whether it holds text a user or a
provider chose (a spreadsheet could run it as a formula, so the CSV neutralises
it) and its CSV header. The ledger's INSERT and SELECTs, the CSV export and the
Billing tab's requests table all read `USAGE_COLUMNS`, built from it.

A new column: a field here and, in billing/schema.py, a new migration with
`ALTER TABLE usage ADD COLUMN <name> <sql>` (released migrations are never edited);
tests/billing/test_columns.py checks the two agree. Fields are in the CSV's order,
which is a file format: append.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, get_type_hints

from app.core.llm.contract import tokens_per_second


def _column(sql: str, *, free_text: bool = False, csv: str = "") -> dict[str, Any]:
    """A field's column: its SQL type and constraints, whether it is free text, its CSV
    header (its name unless given)."""
    return {"sql": sql, "free_text": free_text, "csv": csv}


@dataclass(frozen=True, slots=True)
class UsageRow:
    """One request on the ledger, as stored (see the module docstring)."""

    id: int = field(metadata=_column("INTEGER PRIMARY KEY"))
    created_at: float = field(metadata=_column("REAL NOT NULL", csv="time_utc"))
    conversation_id: int | None = field(
        metadata=_column("INTEGER REFERENCES conversations(id) ON DELETE SET NULL"))  # fmt: skip
    message_id: int | None = field(
        metadata=_column("INTEGER REFERENCES messages(id) ON DELETE SET NULL"))  # fmt: skip
    project: str | None = field(metadata=_column("TEXT", free_text=True))
    tag: str | None = field(metadata=_column("TEXT", free_text=True))
    backend: str = field(metadata=_column("TEXT NOT NULL", free_text=True))
    provider: str = field(metadata=_column("TEXT NOT NULL", free_text=True))
    model: str = field(metadata=_column("TEXT NOT NULL", free_text=True))
    prompt_tokens: int = field(metadata=_column("INTEGER NOT NULL"))
    completion_tokens: int = field(metadata=_column("INTEGER NOT NULL"))
    token_source: str = field(metadata=_column("TEXT NOT NULL"))
    ttft_s: float | None = field(metadata=_column("REAL"))
    duration_s: float = field(metadata=_column("REAL NOT NULL"))
    outcome: str = field(metadata=_column("TEXT NOT NULL"))
    request_id: str | None = field(metadata=_column("TEXT", free_text=True))
    cost: float | None = field(metadata=_column("REAL"))
    currency: str | None = field(metadata=_column("TEXT"))
    cost_source: str = field(metadata=_column("TEXT NOT NULL DEFAULT 'no price'"))
    price_input: float | None = field(metadata=_column("REAL"))
    price_output: float | None = field(metadata=_column("REAL"))
    energy_wh: float | None = field(metadata=_column("REAL"))
    compare_cost: float | None = field(metadata=_column("REAL"))
    requested_model: str | None = field(metadata=_column("TEXT", free_text=True))
    price_source: str | None = field(metadata=_column("TEXT", free_text=True))
    price_date: str | None = field(metadata=_column("TEXT"))
    local_day: int | None = field(metadata=_column("INTEGER", csv="local_date"))
    # the gateway client that sent it (token label or header)
    client: str | None = field(metadata=_column("TEXT", free_text=True))
    # why an `auto` request went where it did
    route: str | None = field(metadata=_column("TEXT", free_text=True))

    @property
    def tokens_per_second(self) -> float | None:
        return tokens_per_second(self.completion_tokens, self.duration_s, self.ttft_s)

    def to_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in COLUMN_NAMES}


@dataclass(frozen=True, slots=True)
class Column:
    """One column of the `usage` table, read off `UsageRow`."""

    name: str
    sql: str  # type and constraints, as the migrations created it
    type: Any  # the Python type of its values
    free_text: bool  # chosen by a user or a provider: may start like a spreadsheet formula
    csv: str  # its CSV header


_HINTS = get_type_hints(UsageRow)
USAGE_COLUMNS: tuple[Column, ...] = tuple(
    Column(f.name, f.metadata["sql"], _HINTS[f.name], f.metadata["free_text"],
           f.metadata["csv"] or f.name)
    for f in fields(UsageRow)
)  # fmt: skip
COLUMN_NAMES: tuple[str, ...] = tuple(c.name for c in USAGE_COLUMNS)
# `SELECT {SELECT_LIST} FROM usage ...` rows are `UsageRow(*row)`.
SELECT_LIST = ", ".join(COLUMN_NAMES)

# The CSV's computed columns, the cost in the display currency at the dated rate. They
# follow `local_date`: the file's layout predates `client` and `route`.
DISPLAY_COLUMNS = ("display_cost", "display_currency")
_DISPLAY_AFTER = "local_day"


def csv_headers() -> tuple[str, ...]:
    """The CSV's header: every column's, with the computed ones after `local_date`."""
    headers = tuple(c.csv for c in USAGE_COLUMNS)
    at = COLUMN_NAMES.index(_DISPLAY_AFTER) + 1
    return (*headers[:at], *DISPLAY_COLUMNS, *headers[at:])
