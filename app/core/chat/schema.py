"""Chat's tables: conversations, messages, their search index, folders, attachments,
projects and Compare's comparisons.

Each `Migration` is this domain's part of a numbered schema version (see
`app.core.foundation.migrations`); released ones are never edited.
"""

from __future__ import annotations

from app.core.foundation.migrations import Migration

SCHEMA: tuple[Migration, ...] = (
    # conversations and messages
    Migration(1, """
    CREATE TABLE conversations (
        id INTEGER PRIMARY KEY,
        title TEXT NOT NULL,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        system_prompt TEXT NOT NULL DEFAULT '',
        sampling_json TEXT NOT NULL DEFAULT '{}',
        target TEXT NOT NULL DEFAULT '',
        project TEXT,
        local_only INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX conversations_updated ON conversations(updated_at DESC);
    CREATE TABLE messages (
        id INTEGER PRIMARY KEY,
        conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
        position INTEGER NOT NULL,
        role TEXT NOT NULL CHECK (role IN ('user', 'assistant')),
        content TEXT NOT NULL,
        created_at REAL NOT NULL,
        backend TEXT,
        provider TEXT,
        model TEXT,
        outcome TEXT,
        error TEXT,
        prompt_tokens INTEGER,
        completion_tokens INTEGER,
        token_source TEXT,
        ttft_s REAL,
        duration_s REAL,
        trimmed_turns INTEGER NOT NULL DEFAULT 0,
        writer_pid INTEGER,
        UNIQUE (conversation_id, position)
    );
    CREATE INDEX messages_streaming ON messages(outcome) WHERE outcome = 'streaming';
    """),
    # issue 7: comparisons (one prompt, several targets, side by side)
    Migration(5, """
    CREATE TABLE comparisons (
        id INTEGER PRIMARY KEY,
        created_at REAL NOT NULL,
        prompt TEXT NOT NULL,
        system_prompt TEXT NOT NULL DEFAULT '',
        sampling_json TEXT NOT NULL DEFAULT '{}'
    );
    CREATE TABLE comparison_columns (
        comparison_id INTEGER NOT NULL REFERENCES comparisons(id) ON DELETE CASCADE,
        position INTEGER NOT NULL,
        target TEXT NOT NULL,
        text TEXT NOT NULL DEFAULT '',
        outcome TEXT NOT NULL DEFAULT 'waiting',
        error TEXT,
        model TEXT,
        provider TEXT,
        prompt_tokens INTEGER,
        completion_tokens INTEGER,
        token_source TEXT,
        ttft_s REAL,
        duration_s REAL,
        usage_id INTEGER REFERENCES usage(id) ON DELETE SET NULL,
        PRIMARY KEY (comparison_id, position)
    );
    """),
    # issue 14: projects name who pays
    Migration(6, """
    CREATE TABLE projects (
        name TEXT PRIMARY KEY,
        hf_bill_to TEXT,
        created_at REAL NOT NULL
    );
    """),
    # issue 16: why a routed answer went where it did
    Migration(7, """
    ALTER TABLE messages ADD COLUMN route TEXT;
    """),
    # issue 15: the writer's start time (a reused pid is not the writer); full-text search
    # over folded text (`parley_fold`, see foundation/text_fold.py), kept in step with the
    # tables by triggers.
    Migration(8, """
    ALTER TABLE messages ADD COLUMN writer_started REAL;
    CREATE VIRTUAL TABLE messages_fts USING fts5(
        content, tokenize='unicode61 remove_diacritics 2'
    );
    CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
        INSERT INTO messages_fts (rowid, content) VALUES (new.id, parley_fold(new.content));
    END;
    CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
        DELETE FROM messages_fts WHERE rowid = old.id;
    END;
    CREATE TRIGGER messages_fts_update AFTER UPDATE OF content ON messages BEGIN
        UPDATE messages_fts SET content = parley_fold(new.content) WHERE rowid = new.id;
    END;
    INSERT INTO messages_fts (rowid, content) SELECT id, parley_fold(content) FROM messages;
    CREATE VIRTUAL TABLE conversations_fts USING fts5(
        title, tokenize='unicode61 remove_diacritics 2'
    );
    CREATE TRIGGER conversations_fts_insert AFTER INSERT ON conversations BEGIN
        INSERT INTO conversations_fts (rowid, title) VALUES (new.id, parley_fold(new.title));
    END;
    CREATE TRIGGER conversations_fts_delete AFTER DELETE ON conversations BEGIN
        DELETE FROM conversations_fts WHERE rowid = old.id;
    END;
    CREATE TRIGGER conversations_fts_update AFTER UPDATE OF title ON conversations BEGIN
        UPDATE conversations_fts SET title = parley_fold(new.title) WHERE rowid = new.id;
    END;
    INSERT INTO conversations_fts (rowid, title) SELECT id, parley_fold(title) FROM conversations;
    """),
    # issue 17: folders and pinning for conversations; files attached to a user message
    # (text as read, images as their bytes), kept and exported with the conversation.
    Migration(9, """
    CREATE TABLE folders (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        created_at REAL NOT NULL
    );
    ALTER TABLE conversations ADD COLUMN folder_id INTEGER
        REFERENCES folders(id) ON DELETE SET NULL;
    ALTER TABLE conversations ADD COLUMN pinned INTEGER NOT NULL DEFAULT 0;
    CREATE TABLE attachments (
        id INTEGER PRIMARY KEY,
        message_id INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
        position INTEGER NOT NULL,
        name TEXT NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('text', 'image')),
        mime TEXT NOT NULL,
        language TEXT NOT NULL DEFAULT '',
        text TEXT NOT NULL DEFAULT '',
        data BLOB,
        tokens INTEGER NOT NULL DEFAULT 0,
        UNIQUE (message_id, position)
    );
    """),
    # issue 22: the search index holds Chinese, Japanese and Korean characters one by one
    # (`parley_fold` is now `text_fold.fold_for_search`), so a word inside a run is found:
    # everything indexed before is indexed again.
    Migration(12, """
    DELETE FROM messages_fts;
    INSERT INTO messages_fts (rowid, content) SELECT id, parley_fold(content) FROM messages;
    DELETE FROM conversations_fts;
    INSERT INTO conversations_fts (rowid, title) SELECT id, parley_fold(title) FROM conversations;
    """),
)
