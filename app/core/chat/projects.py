"""Projects: a conversation belongs to at most one, by exact name.

A project needs no setting up: naming it on a conversation creates it. It may
name the Hugging Face organisation that pays for its requests (Inference
Providers' `X-HF-Bill-To` header), so a team's spend lands on the team's
invoice as well as on the project's ledger rows.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from app.core.foundation.errors import ParleyError
from app.core.foundation.text_fold import plain_name

if TYPE_CHECKING:
    from app.core.foundation.storage import Database

MAX_NAME = 60
# HF organisation names: letters, digits, '-', '_', '.', not starting with a symbol.
_ORG = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,95}$")


@dataclass(frozen=True, slots=True)
class Project:
    name: str
    hf_bill_to: str | None
    conversations: int

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "hf_bill_to": self.hf_bill_to,
                "conversations": self.conversations}  # fmt: skip


def clean_name(name: str | None) -> str | None:
    """A project name as stored (trimmed; empty means none); raises for an unusable one."""
    text = plain_name(name)  # no escape sequences, zero-width or bidi characters
    if not text:
        return None
    if len(text) > MAX_NAME:
        raise ParleyError(f"A project name can be at most {MAX_NAME} characters.",
                          "Use a shorter name.")  # fmt: skip
    return text


class ProjectStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def names(self) -> list[str]:
        """Every project in use or configured, sorted."""
        rows = self.db.query(
            "SELECT project FROM conversations WHERE project IS NOT NULL "
            "UNION SELECT name FROM projects ORDER BY 1 COLLATE NOCASE"
        )
        return [r[0] for r in rows]

    def list(self) -> list[Project]:
        counts = {r[0]: int(r[1]) for r in self.db.query(
            "SELECT project, COUNT(*) FROM conversations WHERE project IS NOT NULL "
            "GROUP BY project")}  # fmt: skip
        bill = {r[0]: r[1] for r in self.db.query("SELECT name, hf_bill_to FROM projects")}
        return [Project(n, bill.get(n), counts.get(n, 0)) for n in self.names()]

    def bill_to(self, project: str | None) -> str | None:
        if not project:
            return None
        value = self.db.scalar("SELECT hf_bill_to FROM projects WHERE name = ?", (project,))
        return str(value) if value else None

    def set_bill_to(self, project: str, organisation: str | None) -> Project:
        name = clean_name(project)
        if name is None:
            raise ParleyError("Name the project.",
                              "e.g. `parley projects set acme --hf-bill-to acme-org`.")  # fmt: skip
        org = (organisation or "").strip() or None
        if org is not None and not _ORG.match(org):
            raise ParleyError(f"'{org}' is not a Hugging Face organisation name.",
                              "Use the name from huggingface.co/ORGANISATION.")  # fmt: skip
        self.db.execute(
            "INSERT INTO projects (name, hf_bill_to, created_at) VALUES (?, ?, ?) "
            "ON CONFLICT(name) DO UPDATE SET hf_bill_to = excluded.hf_bill_to",
            (name, org, time.time()),
        )
        return next(p for p in self.list() if p.name == name)
