"""The ledger's tables: usage (one row per request), its daily roll-up, prices, budgets
and the reservations held while requests run.

Each `Migration` is this domain's part of a numbered schema version (see
`app.core.foundation.migrations`); released ones are never edited.
"""

from __future__ import annotations

from app.core.foundation.migrations import Migration


def _local_day(ts: str) -> str:
    """SQL for the local calendar day of unix time `ts`, as days since 1970-01-01.

    `date(…, 'localtime')` applies the offset in force at that instant (DST
    included); going through the date string keeps midnight exact."""
    return f"CAST(strftime('%s', date({ts}, 'unixepoch', 'localtime')) AS INTEGER) / 86400"


def _daily_key(row: str) -> str:
    return (f"day = COALESCE({row}.local_day, {_local_day(row + '.created_at')}) "
            f"AND provider = {row}.provider AND model = {row}.model "
            f"AND backend = {row}.backend AND project = COALESCE({row}.project, '') "
            f"AND currency = COALESCE({row}.currency, '')")  # fmt: skip


def _saving(row: str) -> str:
    return (f"CASE WHEN {row}.backend = 'local' THEN COALESCE({row}.compare_cost - {row}.cost, 0) "
            "ELSE 0 END")  # fmt: skip


def _daily_add(row: str) -> str:
    return (
        "INSERT INTO usage_daily (day, provider, model, backend, project, currency, cost, "
        "tokens, requests, unpriced, saving) VALUES ("
        f"COALESCE({row}.local_day, {_local_day(row + '.created_at')}), {row}.provider, "
        f"{row}.model, {row}.backend, COALESCE({row}.project, ''), "
        f"COALESCE({row}.currency, ''), COALESCE({row}.cost, 0), "
        f"{row}.prompt_tokens + {row}.completion_tokens, 1, {row}.cost IS NULL, {_saving(row)}) "
        "ON CONFLICT DO UPDATE SET cost = cost + excluded.cost, tokens = tokens + excluded.tokens, "
        "requests = requests + 1, unpriced = unpriced + excluded.unpriced, "
        "saving = saving + excluded.saving;"
    )


def _daily_remove(row: str) -> str:
    key = _daily_key(row)
    return (
        f"UPDATE usage_daily SET cost = cost - COALESCE({row}.cost, 0), "
        f"tokens = tokens - ({row}.prompt_tokens + {row}.completion_tokens), "
        f"requests = requests - 1, unpriced = unpriced - ({row}.cost IS NULL), "
        f"saving = saving - {_saving(row)} WHERE {key};"
        f" DELETE FROM usage_daily WHERE requests <= 0 AND {key};"
    )



SCHEMA: tuple[Migration, ...] = (
    # the usage ledger (conversations and messages are chat's, settings the foundation's)
    Migration(1, """
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
    """),
    # issue 6: billing
    Migration(2, """
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
    """),
    # issue 14: the bill as paid. Each row keeps the id it asked for and the price's source
    # and date, and its own local calendar day (DST included); a daily roll-up kept in step
    # by triggers answers a year of Billing in a few thousand rows.
    Migration(6, f"""
    ALTER TABLE usage ADD COLUMN requested_model TEXT;
    ALTER TABLE usage ADD COLUMN price_source TEXT;
    ALTER TABLE usage ADD COLUMN price_date TEXT;
    ALTER TABLE usage ADD COLUMN local_day INTEGER;
    UPDATE usage SET local_day = {_local_day("created_at")};
    CREATE TRIGGER usage_local_day AFTER INSERT ON usage WHEN NEW.local_day IS NULL BEGIN
        UPDATE usage SET local_day = {_local_day("NEW.created_at")} WHERE id = NEW.id;
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
        {_daily_add("NEW")}
    END;
    CREATE TRIGGER usage_daily_delete AFTER DELETE ON usage BEGIN
        {_daily_remove("OLD")}
    END;
    CREATE TRIGGER usage_daily_update AFTER UPDATE OF created_at, provider, model, backend,
        project, currency, cost, prompt_tokens, completion_tokens, compare_cost ON usage BEGIN
        {_daily_remove("OLD")}
        {_daily_add("NEW")}
    END;
    """),
    # issue 16: the gateway's clients; why a routed answer went where it did
    Migration(7, """
    ALTER TABLE usage ADD COLUMN client TEXT;
    ALTER TABLE usage ADD COLUMN route TEXT;
    CREATE INDEX usage_target ON usage(backend, model, created_at);
    CREATE INDEX usage_backend ON usage(backend, created_at);
    """),
    # issue 21: what running requests may still spend, held against budgets until each is
    # settled into a usage row (one transaction) or released; a dead process's are reaped.
    Migration(10, """
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
    """),
)
