"""Conversations and their messages in SQLite."""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from app.core.chat.backend import (
    ChatMessage,
    GenerationResult,
    Outcome,
    Sampling,
    tokens_per_second,
)
from app.core.chat.prompt import prompt_messages
from app.core.foundation.errors import NotFoundError

if TYPE_CHECKING:
    import builtins

    from app.core.foundation.storage import Database

TITLE_LENGTH = 60


@dataclass(frozen=True, slots=True)
class Conversation:
    id: int
    title: str
    created_at: float
    updated_at: float
    system_prompt: str
    sampling: Sampling
    target: str
    project: str | None
    local_only: bool


@dataclass(frozen=True, slots=True)
class Message:
    id: int
    conversation_id: int
    position: int
    role: str
    content: str
    created_at: float
    backend: str | None = None
    provider: str | None = None
    model: str | None = None
    outcome: str | None = None
    error: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    token_source: str | None = None
    ttft_s: float | None = None
    duration_s: float | None = None
    trimmed_turns: int = 0
    route: str | None = None  # why `auto` sent this answer where it went

    @property
    def tokens_per_second(self) -> float | None:
        return tokens_per_second(self.completion_tokens, self.duration_s, self.ttft_s)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def title_from(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= TITLE_LENGTH else line[: TITLE_LENGTH - 1].rstrip() + "…"


def _sampling_from_json(raw: str) -> Sampling:
    known = {k: v for k, v in json.loads(raw or "{}").items() if k in Sampling.__slots__}
    return Sampling(**known)


def _conversation(row: Any) -> Conversation:
    return Conversation(
        id=row["id"],
        title=row["title"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        system_prompt=row["system_prompt"],
        sampling=_sampling_from_json(row["sampling_json"]),
        target=row["target"],
        project=row["project"],
        local_only=bool(row["local_only"]),
    )


_MESSAGE_COLUMNS = (
    "id, conversation_id, position, role, content, created_at, backend, provider, model, "
    "outcome, error, prompt_tokens, completion_tokens, token_source, ttft_s, duration_s, "
    "trimmed_turns, route"
)


def _message(row: Any) -> Message:
    return Message(**{key: row[key] for key in row.keys()})  # noqa: SIM118 (sqlite3.Row)


class ConversationStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    # conversations -----------------------------------------------------
    def create(
        self,
        title: str = "New conversation",
        *,
        system_prompt: str = "",
        sampling: Sampling | None = None,
        target: str = "",
    ) -> Conversation:
        now = time.time()
        cur = self.db.execute(
            "INSERT INTO conversations (title, created_at, updated_at, system_prompt, "
            "sampling_json, target) VALUES (?, ?, ?, ?, ?, ?)",
            (title, now, now, system_prompt, json.dumps(asdict(sampling or Sampling())), target),
        )
        return self.get(int(cur.lastrowid or 0))

    def get(self, conversation_id: int) -> Conversation:
        rows = self.db.query("SELECT * FROM conversations WHERE id = ?", (conversation_id,))
        if not rows:
            raise NotFoundError(
                f"There is no conversation {conversation_id}.",
                "List them with `parley conversations list`.",
            )
        return _conversation(rows[0])

    def list(self, search: str = "", limit: int = 1000) -> builtins.list[Conversation]:
        """Most recently active first; `search` matches titles and message text."""
        if not search.strip():
            rows = self.db.query(
                "SELECT * FROM conversations ORDER BY updated_at DESC, id DESC LIMIT ?", (limit,)
            )
        else:
            pattern = "%" + search.replace("\\", "\\\\").replace("%", "\\%").replace(
                "_", "\\_"
            ) + "%"
            rows = self.db.query(
                "SELECT * FROM conversations c WHERE c.title LIKE :p ESCAPE '\\' "
                "OR EXISTS (SELECT 1 FROM messages m WHERE m.conversation_id = c.id "
                "AND m.content LIKE :p ESCAPE '\\') "
                "ORDER BY updated_at DESC, id DESC LIMIT :limit",
                {"p": pattern, "limit": limit},
            )
        return [_conversation(r) for r in rows]

    def rename(self, conversation_id: int, title: str) -> None:
        title = title.strip() or "Untitled"
        self._update(conversation_id, "title = ?", (title,))

    def set_system_prompt(self, conversation_id: int, text: str) -> None:
        self._update(conversation_id, "system_prompt = ?", (text,))

    def set_sampling(self, conversation_id: int, sampling: Sampling) -> None:
        self._update(
            conversation_id, "sampling_json = ?", (json.dumps(asdict(sampling.validated())),)
        )

    def set_target(self, conversation_id: int, target: str) -> None:
        self._update(conversation_id, "target = ?", (target,))

    def set_project(self, conversation_id: int, project: str | None) -> None:
        """Put the conversation in `project` (exact name; blank or None: in none)."""
        from app.core.chat.projects import clean_name

        self._update(conversation_id, "project = ?", (clean_name(project),))

    def set_local_only(self, conversation_id: int, local_only: bool) -> None:
        self._update(conversation_id, "local_only = ?", (int(local_only),))

    def touch(self, conversation_id: int) -> None:
        self._update(conversation_id, "updated_at = ?", (time.time(),))

    def delete(self, conversation_id: int) -> None:
        self.get(conversation_id)
        self.db.execute("DELETE FROM conversations WHERE id = ?", (conversation_id,))

    def _update(self, conversation_id: int, assignment: str, params: tuple[Any, ...]) -> None:
        cur = self.db.execute(
            f"UPDATE conversations SET {assignment} WHERE id = ?", (*params, conversation_id)
        )
        if cur.rowcount == 0:
            raise NotFoundError(f"There is no conversation {conversation_id}.")

    # messages ----------------------------------------------------------
    def messages(self, conversation_id: int) -> builtins.list[Message]:
        rows = self.db.query(
            f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE conversation_id = ? "
            "ORDER BY position",
            (conversation_id,),
        )
        return [_message(r) for r in rows]

    def message(self, message_id: int) -> Message:
        rows = self.db.query(f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE id = ?", (message_id,))
        if not rows:
            raise NotFoundError(f"There is no message {message_id}.")
        return _message(rows[0])

    def add_user_message(self, conversation_id: int, text: str) -> Message:
        with self.db.transaction() as conn:
            position = self._next_position(conn, conversation_id)
            now = time.time()
            cur = conn.execute(
                "INSERT INTO messages (conversation_id, position, role, content, created_at) "
                "VALUES (?, ?, 'user', ?, ?)",
                (conversation_id, position, text, now),
            )
            conn.execute(
                "UPDATE conversations SET updated_at = ?, title = CASE WHEN ? = 0 "
                "AND title = 'New conversation' THEN ? ELSE title END WHERE id = ?",
                (now, position, title_from(text), conversation_id),
            )
        return self.message(int(cur.lastrowid or 0))

    def start_assistant_message(
        self, conversation_id: int, backend: str, provider: str, model: str
    ) -> Message:
        """A placeholder that checkpoints fill; `writer_pid` lets a later start spot a crash."""
        with self.db.transaction() as conn:
            position = self._next_position(conn, conversation_id)
            cur = conn.execute(
                "INSERT INTO messages (conversation_id, position, role, content, created_at, "
                "backend, provider, model, outcome, writer_pid) "
                "VALUES (?, ?, 'assistant', '', ?, ?, ?, ?, 'streaming', ?)",
                (conversation_id, position, time.time(), backend, provider, model, os.getpid()),
            )
        return self.message(int(cur.lastrowid or 0))

    def checkpoint(self, message_id: int, text: str, completion_tokens: int) -> None:
        self.db.execute(
            "UPDATE messages SET content = ?, completion_tokens = ? WHERE id = ?",
            (text, completion_tokens, message_id),
        )

    def finish_assistant_message(self, message_id: int, result: GenerationResult) -> None:
        self.db.execute(
            "UPDATE messages SET content = ?, outcome = ?, error = ?, backend = ?, provider = ?, "
            "model = ?, prompt_tokens = ?, completion_tokens = ?, token_source = ?, ttft_s = ?, "
            "duration_s = ?, trimmed_turns = ?, route = ?, writer_pid = NULL WHERE id = ?",
            (
                result.text,
                str(result.outcome),
                result.error,
                result.backend,  # `auto` learns where its answer came from only now
                result.provider,
                result.model,
                result.usage.prompt_tokens,
                result.usage.completion_tokens,
                str(result.usage.source),
                result.ttft_s,
                result.duration_s,
                result.trimmed_turns,
                result.route,
                message_id,
            ),
        )

    def edit_user_message(self, message_id: int, text: str) -> Message:
        """Replace a user message's text and drop every later turn."""
        msg = self.message(message_id)
        if msg.role != "user":
            raise NotFoundError("Only your own messages can be edited.")
        with self.db.transaction() as conn:
            conn.execute("UPDATE messages SET content = ? WHERE id = ?", (text, message_id))
            conn.execute(
                "DELETE FROM messages WHERE conversation_id = ? AND position > ?",
                (msg.conversation_id, msg.position),
            )
        return self.message(message_id)

    def drop_after_last_user_message(self, conversation_id: int) -> Message:
        """For Regenerate: remove the answer(s) after the newest user message."""
        rows = self.db.query(
            f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE conversation_id = ? AND role = 'user' "
            "ORDER BY position DESC LIMIT 1",
            (conversation_id,),
        )
        if not rows:
            raise NotFoundError("There is nothing to regenerate in this conversation yet.")
        last_user = _message(rows[0])
        self.db.execute(
            "DELETE FROM messages WHERE conversation_id = ? AND position > ?",
            (conversation_id, last_user.position),
        )
        return last_user

    def history(self, conversation_id: int) -> tuple[ChatMessage, ...]:
        """What is sent to a model, by the one rule in `app.core.chat.prompt`."""
        conv = self.get(conversation_id)
        return prompt_messages(conv.system_prompt, self.messages(conversation_id))

    def has_streaming(self) -> bool:
        """Whether any answer is still marked as being written (crash recovery may be due)."""
        return bool(self.db.query("SELECT 1 FROM messages WHERE outcome = 'streaming' LIMIT 1"))

    def recover_interrupted(self) -> builtins.list[Message]:
        """Mark answers whose writing process is gone as `interrupted`; return them."""
        rows = self.db.query(
            f"SELECT {_MESSAGE_COLUMNS}, writer_pid FROM messages WHERE outcome = 'streaming'"
        )
        recovered: builtins.list[Message] = []
        for row in rows:
            pid = row["writer_pid"]
            if pid and pid != os.getpid() and _process_alive(pid):
                continue
            self.db.execute(
                "UPDATE messages SET outcome = ?, writer_pid = NULL WHERE id = ?",
                (str(Outcome.INTERRUPTED), row["id"]),
            )
            recovered.append(self.message(row["id"]))
        return recovered

    @staticmethod
    def _next_position(conn: Any, conversation_id: int) -> int:
        if conn.execute("SELECT 1 FROM conversations WHERE id = ?", (conversation_id,)).fetchone():
            row = conn.execute(
                "SELECT COALESCE(MAX(position) + 1, 0) FROM messages WHERE conversation_id = ?",
                (conversation_id,),
            ).fetchone()
            return int(row[0])
        raise NotFoundError(f"There is no conversation {conversation_id}.")


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (killed, not yet reaped by its parent) still answers kill(0).
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True
