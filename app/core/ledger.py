"""The usage ledger: one row per finished, stopped, failed or interrupted request."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from app.core.backend import GenerationResult
    from app.core.storage import Database


@dataclass(frozen=True, slots=True)
class UsageRow:
    id: int
    created_at: float
    conversation_id: int | None
    message_id: int | None
    backend: str
    provider: str
    model: str
    prompt_tokens: int
    completion_tokens: int
    token_source: str
    ttft_s: float | None
    duration_s: float
    outcome: str
    request_id: str | None
    project: str | None
    tag: str | None

    def to_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}


class Ledger:
    def __init__(self, db: Database) -> None:
        self.db = db

    def record(
        self,
        result: GenerationResult,
        *,
        conversation_id: int | None,
        message_id: int | None,
        project: str | None = None,
        tag: str | None = None,
        created_at: float | None = None,
    ) -> int:
        cur = self.db.execute(
            "INSERT INTO usage (created_at, conversation_id, message_id, backend, provider, "
            "model, prompt_tokens, completion_tokens, token_source, ttft_s, duration_s, outcome, "
            "request_id, project, tag) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                time.time() if created_at is None else created_at,
                conversation_id,
                message_id,
                result.backend,
                result.provider,
                result.model,
                result.usage.prompt_tokens,
                result.usage.completion_tokens,
                str(result.usage.source),
                result.ttft_s,
                result.duration_s,
                str(result.outcome),
                result.request_id,
                project,
                tag,
            ),
        )
        return int(cur.lastrowid or 0)

    def rows(self, limit: int = 1000, offset: int = 0) -> list[UsageRow]:
        """Newest first."""
        rows = self.db.query(
            "SELECT * FROM usage ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?",
            (limit, offset),
        )
        return [UsageRow(**{k: r[k] for k in r.keys()}) for r in rows]  # noqa: SIM118

    def count(self) -> int:
        return int(self.db.scalar("SELECT COUNT(*) FROM usage"))
