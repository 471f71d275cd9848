# ruff: noqa: E501 -- the released SQL, verbatim (the trigger bodies were generated on one line)
"""The schema scripts as released (versions 1 to 10), verbatim, to check upgrades against.

Generated from app/core/foundation/storage.py before each domain declared its own
tables; never edit. `MIGRATIONS[i]` takes a database from version i to i + 1.
"""

RELEASED: tuple[str, ...] = (
    # 0 -> 1
    """
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
    CREATE TABLE usage (
        id INTEGER PRIMARY KEY,
        created_at REAL NOT NULL,
        conversation_id INTEGER REFERENCES conversations(id) ON DELETE SET NULL,
        message_id INTEGER REFERENCES messages(id) ON DELETE SET NULL,
        backend TEXT NOT NULL,
        provider TEXT NOT NULL,
        model TEXT NOT NULL,
        prompt_tokens INTEGER NOT NULL,
        completion_tokens INTEGER NOT NULL,
        token_source TEXT NOT NULL,
        ttft_s REAL,
        duration_s REAL NOT NULL,
        outcome TEXT NOT NULL,
        request_id TEXT,
        project TEXT,
        tag TEXT
    );
    CREATE INDEX usage_created ON usage(created_at);
    CREATE INDEX usage_conversation ON usage(conversation_id);
    CREATE TABLE settings (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    """,
    # 1 -> 2
    """
    ALTER TABLE usage ADD COLUMN cost REAL;
    ALTER TABLE usage ADD COLUMN currency TEXT;
    ALTER TABLE usage ADD COLUMN cost_source TEXT NOT NULL DEFAULT 'no price';
    ALTER TABLE usage ADD COLUMN price_input REAL;
    ALTER TABLE usage ADD COLUMN price_output REAL;
    ALTER TABLE usage ADD COLUMN energy_wh REAL;
    ALTER TABLE usage ADD COLUMN compare_cost REAL;
    CREATE TABLE prices (
        provider TEXT NOT NULL,
        model TEXT NOT NULL,
        input REAL NOT NULL,
        output REAL NOT NULL,
        cached_input REAL,
        currency TEXT NOT NULL,
        source TEXT NOT NULL,
        date TEXT NOT NULL,
        user_override INTEGER NOT NULL DEFAULT 1,
        PRIMARY KEY (provider, model)
    );
    CREATE TABLE budgets (
        id INTEGER PRIMARY KEY,
        scope TEXT NOT NULL CHECK (scope IN ('all', 'provider', 'project')),
        name TEXT NOT NULL DEFAULT '',
        period TEXT NOT NULL CHECK (period IN ('day', 'month')),
        amount REAL NOT NULL,
        currency TEXT NOT NULL,
        hard INTEGER NOT NULL DEFAULT 0,
        warn_at REAL NOT NULL DEFAULT 0.8,
        UNIQUE (scope, name, period)
    );
    -- Covering index: every Billing chart is one range scan that never touches the table.
    CREATE INDEX usage_billing ON usage(created_at, currency, provider, backend, model,
        project, cost, prompt_tokens, completion_tokens, compare_cost);
    CREATE INDEX usage_provider_created ON usage(provider, created_at);
    CREATE INDEX usage_project_created ON usage(project, created_at);
    CREATE INDEX usage_unpriced ON usage(provider, model) WHERE cost_source = 'no price';
    """,
    # 2 -> 3
    """
    CREATE TABLE providers (
        name TEXT PRIMARY KEY,
        kind TEXT NOT NULL CHECK (kind IN ('hf', 'mistral', 'openai')),
        base_url TEXT NOT NULL,
        model TEXT NOT NULL DEFAULT '',
        hf_provider TEXT NOT NULL DEFAULT '',
        key_host TEXT,
        created_at REAL NOT NULL,
        options_json TEXT NOT NULL DEFAULT '{}'
    );
    """,
    # 3 -> 4
    """
    CREATE TABLE downloads (
        id INTEGER PRIMARY KEY,
        repo TEXT NOT NULL,
        path TEXT NOT NULL,
        revision TEXT NOT NULL DEFAULT 'main',
        size INTEGER NOT NULL DEFAULT 0,
        done INTEGER NOT NULL DEFAULT 0,
        state TEXT NOT NULL
            CHECK (state IN ('queued', 'running', 'paused', 'done', 'failed', 'cancelled')),
        error TEXT,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        UNIQUE (repo, revision, path)
    );
    """,
    # 4 -> 5
    """
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
    """,
    # 5 -> 6
    """
    ALTER TABLE usage ADD COLUMN requested_model TEXT;
    ALTER TABLE usage ADD COLUMN price_source TEXT;
    ALTER TABLE usage ADD COLUMN price_date TEXT;
    ALTER TABLE usage ADD COLUMN local_day INTEGER;
    UPDATE usage SET local_day = CAST(strftime('%s', date(created_at, 'unixepoch', 'localtime')) AS INTEGER) / 86400;
    CREATE TRIGGER usage_local_day AFTER INSERT ON usage WHEN NEW.local_day IS NULL BEGIN
        UPDATE usage SET local_day = CAST(strftime('%s', date(NEW.created_at, 'unixepoch', 'localtime')) AS INTEGER) / 86400 WHERE id = NEW.id;
    END;
    CREATE TABLE usage_daily (
        day INTEGER NOT NULL,
        provider TEXT NOT NULL,
        model TEXT NOT NULL,
        backend TEXT NOT NULL,
        project TEXT NOT NULL,
        currency TEXT NOT NULL,
        cost REAL NOT NULL DEFAULT 0,
        tokens INTEGER NOT NULL DEFAULT 0,
        requests INTEGER NOT NULL DEFAULT 0,
        unpriced INTEGER NOT NULL DEFAULT 0,
        saving REAL NOT NULL DEFAULT 0,
        PRIMARY KEY (day, provider, model, backend, project, currency)
    ) WITHOUT ROWID;
    INSERT INTO usage_daily
        SELECT local_day, provider, model, backend, COALESCE(project, ''),
            COALESCE(currency, ''), COALESCE(SUM(cost), 0),
            SUM(prompt_tokens + completion_tokens), COUNT(*), COUNT(*) - COUNT(cost),
            COALESCE(SUM(CASE WHEN backend = 'local' THEN compare_cost - cost END), 0)
        FROM usage GROUP BY 1, 2, 3, 4, 5, 6;
    CREATE TRIGGER usage_daily_insert AFTER INSERT ON usage BEGIN
        INSERT INTO usage_daily (day, provider, model, backend, project, currency, cost, tokens, requests, unpriced, saving) VALUES (COALESCE(NEW.local_day, CAST(strftime('%s', date(NEW.created_at, 'unixepoch', 'localtime')) AS INTEGER) / 86400), NEW.provider, NEW.model, NEW.backend, COALESCE(NEW.project, ''), COALESCE(NEW.currency, ''), COALESCE(NEW.cost, 0), NEW.prompt_tokens + NEW.completion_tokens, 1, NEW.cost IS NULL, CASE WHEN NEW.backend = 'local' THEN COALESCE(NEW.compare_cost - NEW.cost, 0) ELSE 0 END) ON CONFLICT DO UPDATE SET cost = cost + excluded.cost, tokens = tokens + excluded.tokens, requests = requests + 1, unpriced = unpriced + excluded.unpriced, saving = saving + excluded.saving;
    END;
    CREATE TRIGGER usage_daily_delete AFTER DELETE ON usage BEGIN
        UPDATE usage_daily SET cost = cost - COALESCE(OLD.cost, 0), tokens = tokens - (OLD.prompt_tokens + OLD.completion_tokens), requests = requests - 1, unpriced = unpriced - (OLD.cost IS NULL), saving = saving - CASE WHEN OLD.backend = 'local' THEN COALESCE(OLD.compare_cost - OLD.cost, 0) ELSE 0 END WHERE day = COALESCE(OLD.local_day, CAST(strftime('%s', date(OLD.created_at, 'unixepoch', 'localtime')) AS INTEGER) / 86400) AND provider = OLD.provider AND model = OLD.model AND backend = OLD.backend AND project = COALESCE(OLD.project, '') AND currency = COALESCE(OLD.currency, ''); DELETE FROM usage_daily WHERE requests <= 0 AND day = COALESCE(OLD.local_day, CAST(strftime('%s', date(OLD.created_at, 'unixepoch', 'localtime')) AS INTEGER) / 86400) AND provider = OLD.provider AND model = OLD.model AND backend = OLD.backend AND project = COALESCE(OLD.project, '') AND currency = COALESCE(OLD.currency, '');
    END;
    CREATE TRIGGER usage_daily_update AFTER UPDATE OF created_at, provider, model, backend,
        project, currency, cost, prompt_tokens, completion_tokens, compare_cost ON usage BEGIN
        UPDATE usage_daily SET cost = cost - COALESCE(OLD.cost, 0), tokens = tokens - (OLD.prompt_tokens + OLD.completion_tokens), requests = requests - 1, unpriced = unpriced - (OLD.cost IS NULL), saving = saving - CASE WHEN OLD.backend = 'local' THEN COALESCE(OLD.compare_cost - OLD.cost, 0) ELSE 0 END WHERE day = COALESCE(OLD.local_day, CAST(strftime('%s', date(OLD.created_at, 'unixepoch', 'localtime')) AS INTEGER) / 86400) AND provider = OLD.provider AND model = OLD.model AND backend = OLD.backend AND project = COALESCE(OLD.project, '') AND currency = COALESCE(OLD.currency, ''); DELETE FROM usage_daily WHERE requests <= 0 AND day = COALESCE(OLD.local_day, CAST(strftime('%s', date(OLD.created_at, 'unixepoch', 'localtime')) AS INTEGER) / 86400) AND provider = OLD.provider AND model = OLD.model AND backend = OLD.backend AND project = COALESCE(OLD.project, '') AND currency = COALESCE(OLD.currency, '');
        INSERT INTO usage_daily (day, provider, model, backend, project, currency, cost, tokens, requests, unpriced, saving) VALUES (COALESCE(NEW.local_day, CAST(strftime('%s', date(NEW.created_at, 'unixepoch', 'localtime')) AS INTEGER) / 86400), NEW.provider, NEW.model, NEW.backend, COALESCE(NEW.project, ''), COALESCE(NEW.currency, ''), COALESCE(NEW.cost, 0), NEW.prompt_tokens + NEW.completion_tokens, 1, NEW.cost IS NULL, CASE WHEN NEW.backend = 'local' THEN COALESCE(NEW.compare_cost - NEW.cost, 0) ELSE 0 END) ON CONFLICT DO UPDATE SET cost = cost + excluded.cost, tokens = tokens + excluded.tokens, requests = requests + 1, unpriced = unpriced + excluded.unpriced, saving = saving + excluded.saving;
    END;
    CREATE TABLE projects (
        name TEXT PRIMARY KEY,
        hf_bill_to TEXT,
        created_at REAL NOT NULL
    );
    """,
    # 6 -> 7
    """
    ALTER TABLE usage ADD COLUMN client TEXT;
    ALTER TABLE usage ADD COLUMN route TEXT;
    ALTER TABLE messages ADD COLUMN route TEXT;
    CREATE INDEX usage_target ON usage(backend, model, created_at);
    CREATE INDEX usage_backend ON usage(backend, created_at);
    CREATE TABLE gateway_tokens (
        id INTEGER PRIMARY KEY,
        label TEXT NOT NULL,
        project TEXT,
        sha256 TEXT NOT NULL UNIQUE,
        created_at REAL NOT NULL,
        revoked_at REAL
    );
    """,
    # 7 -> 8
    """
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
    """,
    # 8 -> 9
    """
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
    """,
    # 9 -> 10
    """
    CREATE TABLE reservations (
        id INTEGER PRIMARY KEY,
        started_at REAL NOT NULL,
        pid INTEGER NOT NULL,
        pid_started REAL,
        backend TEXT NOT NULL,
        provider TEXT NOT NULL,
        project TEXT,
        amount REAL,
        currency TEXT
    );
    CREATE INDEX reservations_backend ON reservations(backend);
    """,
)
