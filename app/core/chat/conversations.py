"""Conversations and their messages in SQLite.

Search uses SQLite's full-text index (FTS5) over folded text, kept in step
with the tables by triggers (see `app.core.foundation.storage`): case and
accents fold for every script, so `привет` finds "Привет" and `uber` finds
"Über".
"""

from __future__ import annotations

import json
import os
import re
import time
from dataclasses import asdict, dataclass
from dataclasses import replace as dataclasses_replace
from typing import TYPE_CHECKING, Any

from app.core.chat.attachments import Attachment
from app.core.chat.prompt import prompt_messages
from app.core.chat.search import fts_query
from app.core.foundation.errors import NotFoundError
from app.core.foundation.processes import process_started, writer_alive
from app.core.llm.contract import (
    ChatMessage,
    GenerationResult,
    Outcome,
    Sampling,
    tokens_per_second,
)

if TYPE_CHECKING:
    import builtins
    from collections.abc import Iterable

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
    folder_id: int | None = None  # issue 17: the folder it sits in, None for none
    pinned: bool = False


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
    attachments: tuple[Attachment, ...] = ()  # files attached to a user message
    route: str | None = None  # why `auto` sent this answer where it went

    @property
    def tokens_per_second(self) -> float | None:
        return tokens_per_second(self.completion_tokens, self.duration_s, self.ttft_s)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: attachments' bytes as base64 (`attachment_to_dict`)."""
        data = asdict(self)
        data["attachments"] = [attachment_to_dict(a) for a in self.attachments]
        return data


def attachment_to_dict(attachment: Attachment) -> dict[str, Any]:
    import base64

    data = asdict(attachment)
    data["data"] = base64.b64encode(attachment.data).decode("ascii") if attachment.data else ""
    return data


def attachment_from_dict(data: dict[str, Any]) -> Attachment:
    """The inverse of `attachment_to_dict`; raises `ValueError` on a malformed entry."""
    import base64
    import binascii

    kind = str(data.get("kind", "text"))
    if kind not in ("text", "image"):
        raise ValueError(f"unknown attachment kind {kind!r}")
    try:
        raw = base64.b64decode(str(data.get("data") or ""), validate=True)
    except binascii.Error as exc:
        raise ValueError(f"attachment data is not base64 ({exc})") from exc
    return Attachment(
        name=str(data.get("name") or "attachment"),
        kind="image" if kind == "image" else "text",
        mime=str(data.get("mime") or ("image/png" if kind == "image" else "text/plain")),
        text=str(data.get("text") or ""),
        data=raw,
        language=str(data.get("language") or ""),
        tokens=int(data.get("tokens") or 0),
    )


# Bidi embeddings, overrides and isolates: in a one-line title they can make the title
# read backwards or spill into what is shown beside it ("Trojan Source", CVE-2021-42574).
_BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069]")


def title_from(text: str) -> str:
    line = " ".join(_BIDI_CONTROLS.sub("", text).split())
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
        folder_id=row["folder_id"],
        pinned=bool(row["pinned"]),
    )


_MESSAGE_COLUMNS = (
    "id, conversation_id, position, role, content, created_at, backend, provider, model, "
    "outcome, error, prompt_tokens, completion_tokens, token_source, ttft_s, duration_s, "
    "trimmed_turns, route"
)


def _message(row: Any, attachments: tuple[Attachment, ...] = ()) -> Message:
    fields = {key: row[key] for key in row.keys()}  # noqa: SIM118 (sqlite3.Row)
    return Message(**fields, attachments=attachments)


def _attachment(row: Any) -> Attachment:
    return Attachment(
        name=row["name"], kind="image" if row["kind"] == "image" else "text", mime=row["mime"],
        text=row["text"], data=bytes(row["data"] or b""), language=row["language"],
        tokens=row["tokens"],
    )  # fmt: skip


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

    def create_with_messages(
        self,
        title: str,
        messages: Iterable[Message],
        *,
        system_prompt: str = "",
        sampling: Sampling | None = None,
        target: str = "",
    ) -> Conversation:
        """A new conversation holding `messages`, written in one transaction (imports):
        an interruption or a failure leaves no part of it behind."""
        with self.db.transaction() as conn:
            now = time.time()
            cur = conn.execute(
                "INSERT INTO conversations (title, created_at, updated_at, system_prompt, "
                "sampling_json, target) VALUES (?, ?, ?, ?, ?, ?)",
                (title, now, now, system_prompt, json.dumps(asdict(sampling or Sampling())),
                 target),
            )  # fmt: skip
            new_id = int(cur.lastrowid or 0)
            for position, m in enumerate(messages):
                self._insert_message(conn, new_id, position, m)
        return self.get(new_id)

    def get(self, conversation_id: int) -> Conversation:
        rows = self.db.query("SELECT * FROM conversations WHERE id = ?", (conversation_id,))
        if not rows:
            raise NotFoundError(
                f"There is no conversation {conversation_id}.",
                "List them with `parley conversations list`.",
            )
        return _conversation(rows[0])

    def list(
        self, search: str = "", limit: int = 1000, folder_id: int | None = None
    ) -> builtins.list[Conversation]:
        """Pinned first, then most recently active. `search` keeps those whose title or one
        message holds every word of it (each word also as a prefix: `bre` finds "bread");
        `folder_id` keeps one folder's conversations (None: every conversation)."""
        if folder_id is not None:
            rows = self.db.query(
                "SELECT * FROM conversations WHERE folder_id = ? "
                "ORDER BY pinned DESC, updated_at DESC, id DESC LIMIT ?",
                (folder_id, limit),
            )
            found = {c.id for c in self.list(search, limit)} if search.strip() else None
            return [
                c for c in map(_conversation, rows) if found is None or c.id in found
            ]
        if not search.strip():
            rows = self.db.query(
                "SELECT * FROM conversations ORDER BY pinned DESC, updated_at DESC, id DESC "
                "LIMIT ?",
                (limit,),
            )
            return [_conversation(r) for r in rows]
        query = fts_query(search)
        if not query:
            return []
        rows = self.db.query(
            "SELECT * FROM conversations WHERE id IN ("
            " SELECT m.conversation_id FROM messages_fts f JOIN messages m ON m.id = f.rowid"
            " WHERE messages_fts MATCH :q"
            " UNION SELECT rowid FROM conversations_fts WHERE conversations_fts MATCH :q) "
            "ORDER BY pinned DESC, updated_at DESC, id DESC LIMIT :limit",
            {"q": query, "limit": limit},
        )
        return [_conversation(r) for r in rows]

    def rename(self, conversation_id: int, title: str) -> None:
        title = " ".join(_BIDI_CONTROLS.sub("", title).split()) or "Untitled"
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

    def set_pinned(self, conversation_id: int, pinned: bool) -> None:
        """Pinned conversations stay at the top of the list."""
        self._update(conversation_id, "pinned = ?", (int(pinned),))

    def set_folder(self, conversation_id: int, folder_id: int | None) -> None:
        """Move the conversation into `folder_id` (None: out of any folder)."""
        self._update(conversation_id, "folder_id = ?", (folder_id,))

    def fork(self, message_id: int) -> Conversation:
        """A new conversation holding everything up to and including `message_id`, with the
        same settings; the original is untouched. Answers still being written are copied
        as they stand and marked stopped."""
        msg = self.message(message_id)
        conv = self.get(msg.conversation_id)
        kept = [m for m in self.messages(conv.id) if m.position <= msg.position]
        with self.db.transaction() as conn:
            now = time.time()
            cur = conn.execute(
                "INSERT INTO conversations (title, created_at, updated_at, system_prompt, "
                "sampling_json, target, project, local_only, folder_id, pinned) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0)",
                (title_from(f"{conv.title} (fork)"), now, now, conv.system_prompt,
                 json.dumps(asdict(conv.sampling)), conv.target, conv.project,
                 int(conv.local_only), conv.folder_id),
            )  # fmt: skip
            new_id = int(cur.lastrowid or 0)
            for position, m in enumerate(kept):
                if m.outcome == Outcome.STREAMING:
                    m = dataclasses_replace(m, outcome=str(Outcome.STOPPED))
                self._insert_message(conn, new_id, position, m)
        return self.get(new_id)

    def append_message(self, conversation_id: int, message: Message) -> Message:
        """Store a finished message as given (imports); its id and position are assigned."""
        with self.db.transaction() as conn:
            position = self._next_position(conn, conversation_id)
            message_id = self._insert_message(conn, conversation_id, position, message)
            conn.execute(
                "UPDATE conversations SET updated_at = ? WHERE id = ?",
                (time.time(), conversation_id),
            )
        return self.message(message_id)

    @staticmethod
    def _insert_message(conn: Any, conversation_id: int, position: int, m: Message) -> int:
        cur = conn.execute(
            "INSERT INTO messages (conversation_id, position, role, content, created_at, backend, "
            "provider, model, outcome, error, prompt_tokens, completion_tokens, token_source, "
            "ttft_s, duration_s, trimmed_turns, route) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
            "?, ?, ?, ?, ?, ?)",
            (conversation_id, position, m.role, m.content, m.created_at, m.backend, m.provider,
             m.model, m.outcome, m.error, m.prompt_tokens, m.completion_tokens, m.token_source,
             m.ttft_s, m.duration_s, m.trimmed_turns, m.route),
        )  # fmt: skip
        message_id = int(cur.lastrowid or 0)
        _insert_attachments(conn, message_id, m.attachments)
        return message_id

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
    def messages(self, conversation_id: int, since_position: int = 0) -> builtins.list[Message]:
        """In order; from `since_position` on (a view that holds only the newest part)."""
        rows = self.db.query(
            f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE conversation_id = ? "
            "AND position >= ? ORDER BY position",
            (conversation_id, since_position),
        )
        return self._with_attachments(rows)

    def _with_attachments(self, rows: builtins.list[Any]) -> builtins.list[Message]:
        """Messages from their rows, each with its attachments (one query for all)."""
        if not rows:
            return []
        ids = [r["id"] for r in rows]
        attached = self._attachments(
            "SELECT * FROM attachments WHERE message_id IN "
            "(SELECT value FROM json_each(?)) ORDER BY message_id, position",
            (json.dumps(ids),),
        )
        return [_message(r, attached.get(r["id"], ())) for r in rows]

    def last_messages(self, conversation_id: int, limit: int) -> builtins.list[Message]:
        """The newest `limit` messages, in order: opening a conversation of 10,000 messages
        reads 80 of them, not all (0.35 s here)."""
        rows = self.db.query(
            f"SELECT * FROM (SELECT {_MESSAGE_COLUMNS} FROM messages WHERE conversation_id = ? "
            "ORDER BY position DESC LIMIT ?) ORDER BY position",
            (conversation_id, limit),
        )
        return self._with_attachments(rows)

    def newest_within(
        self, conversation_id: int, max_chars: int
    ) -> tuple[builtins.list[Message], bool]:
        """The newest messages whose text adds up to `max_chars` or just past it, in order,
        and whether older ones were left out. The context meter and the cost quote read
        this: a 10,000-message conversation can't be sent whole anyway, and reading all of
        it on every keystroke's recount kept the GUI waiting on the GIL."""
        rows = self.db.query(
            f"SELECT {_MESSAGE_COLUMNS} FROM (SELECT {_MESSAGE_COLUMNS}, "
            "SUM(length(content)) OVER (ORDER BY position DESC) - length(content) AS before "
            "FROM messages WHERE conversation_id = ?) "
            "WHERE before < ? ORDER BY position",
            (conversation_id, max_chars),
        )
        total = int(self.db.scalar(
            "SELECT COUNT(*) FROM messages WHERE conversation_id = ?", (conversation_id,)
        ))  # fmt: skip
        return self._with_attachments(rows), len(rows) < total

    def messages_before(
        self, conversation_id: int, position: int, limit: int
    ) -> builtins.list[Message]:
        """Up to `limit` messages just before `position`, in order."""
        rows = self.db.query(
            f"SELECT * FROM (SELECT {_MESSAGE_COLUMNS} FROM messages WHERE conversation_id = ? "
            "AND position < ? ORDER BY position DESC LIMIT ?) ORDER BY position",
            (conversation_id, position, limit),
        )
        return self._with_attachments(rows)

    def count_messages_before(self, conversation_id: int, position: int) -> int:
        return int(self.db.scalar(
            "SELECT COUNT(*) FROM messages WHERE conversation_id = ? AND position < ?",
            (conversation_id, position),
        ))  # fmt: skip

    def message(self, message_id: int) -> Message:
        rows = self.db.query(f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE id = ?", (message_id,))
        if not rows:
            raise NotFoundError(f"There is no message {message_id}.")
        attached = self._attachments(
            "SELECT * FROM attachments WHERE message_id = ? ORDER BY position", (message_id,)
        )
        return _message(rows[0], attached.get(message_id, ()))

    def _attachments(
        self, sql: str, params: tuple[Any, ...]
    ) -> dict[int, tuple[Attachment, ...]]:
        found: dict[int, builtins.list[Attachment]] = {}
        for row in self.db.query(sql, params):
            found.setdefault(row["message_id"], []).append(_attachment(row))
        return {key: tuple(value) for key, value in found.items()}

    def add_user_message(
        self, conversation_id: int, text: str, attachments: tuple[Attachment, ...] = ()
    ) -> Message:
        with self.db.transaction() as conn:
            position = self._next_position(conn, conversation_id)
            now = time.time()
            cur = conn.execute(
                "INSERT INTO messages (conversation_id, position, role, content, created_at) "
                "VALUES (?, ?, 'user', ?, ?)",
                (conversation_id, position, text, now),
            )
            _insert_attachments(conn, int(cur.lastrowid or 0), attachments)
            title_text = text if text.strip() else " ".join(a.name for a in attachments)
            conn.execute(
                "UPDATE conversations SET updated_at = ?, title = CASE WHEN ? = 0 "
                "AND title = 'New conversation' THEN ? ELSE title END WHERE id = ?",
                (now, position, title_from(title_text), conversation_id),
            )
        return self.message(int(cur.lastrowid or 0))

    def start_assistant_message(
        self, conversation_id: int, backend: str, provider: str, model: str
    ) -> Message:
        """A placeholder that checkpoints fill; the writer's pid and start time let a later
        start spot a crash (the start time tells a reused pid from the writer)."""
        with self.db.transaction() as conn:
            position = self._next_position(conn, conversation_id)
            cur = conn.execute(
                "INSERT INTO messages (conversation_id, position, role, content, created_at, "
                "backend, provider, model, outcome, writer_pid, writer_started) "
                "VALUES (?, ?, 'assistant', '', ?, ?, ?, ?, 'streaming', ?, ?)",
                (conversation_id, position, time.time(), backend, provider, model, os.getpid(),
                 process_started(os.getpid())),
            )  # fmt: skip
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
            "duration_s = ?, trimmed_turns = ?, route = ?, writer_pid = NULL, "
            "writer_started = NULL WHERE id = ?",
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

    def history_within(
        self, conversation_id: int, max_chars: int
    ) -> tuple[tuple[ChatMessage, ...], bool]:
        """`history` of the newest messages only (`newest_within`), and whether older
        ones were left out."""
        conv = self.get(conversation_id)
        newest, cut = self.newest_within(conversation_id, max_chars)
        return prompt_messages(conv.system_prompt, newest), cut

    def has_streaming(self) -> bool:
        """Whether any answer is still marked as being written (crash recovery may be due)."""
        return bool(self.db.query("SELECT 1 FROM messages WHERE outcome = 'streaming' LIMIT 1"))

    def recover_interrupted(self) -> builtins.list[Message]:
        """Mark answers whose writing process is gone as `interrupted`; return them."""
        rows = self.db.query(
            "SELECT id, writer_pid, writer_started FROM messages WHERE outcome = 'streaming'"
        )
        recovered: builtins.list[Message] = []
        for row in rows:
            pid = row["writer_pid"]
            if pid and pid != os.getpid() and writer_alive(pid, row["writer_started"]):
                continue
            self.db.execute(
                "UPDATE messages SET outcome = ?, writer_pid = NULL, writer_started = NULL "
                "WHERE id = ?",
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


def _insert_attachments(conn: Any, message_id: int, attachments: tuple[Attachment, ...]) -> None:
    conn.executemany(
        "INSERT INTO attachments (message_id, position, name, kind, mime, language, text, data, "
        "tokens) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [(message_id, i, a.name, a.kind, a.mime, a.language, a.text, a.data or None, a.tokens)
         for i, a in enumerate(attachments)],
    )  # fmt: skip
