"""A data folder at the sizes a heavy user reaches.

`seed()` writes straight through SQL (the search index's triggers still run):
one conversation of `messages` messages, `conversations` more of two
messages each, and `ledger_rows` usage rows over two years.
"""

from __future__ import annotations

import random
import time
from typing import TYPE_CHECKING

from app.core.schema import open_database

if TYPE_CHECKING:
    from pathlib import Path

ANSWER = (
    "Here is how it works:\n\n- first, **read** the file\n- then `parse` it\n\n"
    "```python\nfor row in rows:\n    print(row)\n```\n\nThat is all; ask again if needed. "
)
WORDS = ["lighthouse", "keeper", "whale", "tide", "lamp", "rope", "shell", "bottle", "letter",
         "fog", "rain", "gull"]  # fmt: skip


def seed(root: Path, *, messages: int, conversations: int, ledger_rows: int) -> int:
    """Fill the data folder at `root` (already opened once); returns the big conversation's id."""
    rng = random.Random(15)
    db = open_database(root / "parley.sqlite3")
    now = time.time()
    try:
        with db.transaction() as conn:
            for c in range(conversations):
                conn.execute(
                    "INSERT INTO conversations (title, created_at, updated_at) VALUES (?, ?, ?)",
                    (f"Chat {c}: {' '.join(rng.sample(WORDS, 3))}", now - 86_400 * 30,
                     now - 86_400 * 30 + c),
                )  # fmt: skip
                cid = conn.execute("SELECT last_insert_rowid()").fetchone()[0]
                conn.executemany(
                    "INSERT INTO messages (conversation_id, position, role, content, created_at, "
                    "outcome) VALUES (?, ?, ?, ?, ?, ?)",
                    [(cid, 0, "user", f"Question {c} about the {rng.choice(WORDS)}?", now, None),
                     (cid, 1, "assistant", ANSWER, now, "done")],
                )  # fmt: skip
            conn.execute(
                "INSERT INTO conversations (title, created_at, updated_at, target) "
                "VALUES ('The long one', ?, ?, '')",
                (now - 86_400, now),
            )
            big = conn.execute("SELECT last_insert_rowid()").fetchone()[0]
            conn.executemany(
                "INSERT INTO messages (conversation_id, position, role, content, created_at, "
                "outcome, backend, model, prompt_tokens, completion_tokens, duration_s) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(big, i, "user" if i % 2 == 0 else "assistant",
                  f"Part {i}: tell me about the {rng.choice(WORDS)}." if i % 2 == 0 else ANSWER,
                  now - (messages - i), None if i % 2 == 0 else "done",
                  None if i % 2 == 0 else "local", None if i % 2 == 0 else "SmolLM2",
                  None if i % 2 == 0 else 900, None if i % 2 == 0 else 120,
                  None if i % 2 == 0 else 2.0) for i in range(messages)],
            )  # fmt: skip
            span = 2 * 365 * 86_400
            rows = [(now - rng.random() * span, "local" if i % 3 else "mistral",
                     "llama.cpp" if i % 3 else "mistral", "m", rng.randint(50, 4000),
                     rng.randint(10, 1200), "reported", 0.2, 2.0, "done",
                     rng.random() / 100, "USD", "priced") for i in range(ledger_rows)]  # fmt: skip
            conn.executemany(
                "INSERT INTO usage (created_at, backend, provider, model, prompt_tokens, "
                "completion_tokens, token_source, ttft_s, duration_s, outcome, cost, currency, "
                "cost_source) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
        db.execute("ANALYZE")
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        db.close()
    return int(big)
