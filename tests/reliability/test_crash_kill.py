"""Crash and kill: `kill -9` at random points of a ledger write, a settings save, an answer's
checkpoints, a real generation, a download and a migration. After each restart the
database passes `PRAGMA integrity_check`, every acknowledged write is there, and a
partial answer is kept (as `interrupted`).

Kill moments come from a seeded generator, so a failure can be replayed.
"""

from __future__ import annotations

import hashlib
import os
import random
import select
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import psutil
import pytest

from app.core.chat.conversations import ConversationStore
from app.core.context import AppContext
from app.core.local.starter import STARTER
from app.core.schema import MIGRATIONS, SCHEMA_VERSION, open_database
from tests.helpers.starter import REPO
from tests.local.conftest import REPO as HUB_REPO
from tests.local.conftest import STARTER_FILE
from tests.reliability.conftest import sized
from tests.reliability.support import parley_env

if TYPE_CHECKING:
    from tests.helpers.hub_server import HubServer
    from tests.reliability.conftest import Tally

pytestmark = pytest.mark.reliability("crash")
MB = 1 << 20
SEED = 15


def integrity_ok(db_path: Path) -> bool:
    conn = sqlite3.connect(db_path)
    try:
        return conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        conn.close()


def kill_at_random(
    args: list[str], data_dir: Path, rng: random.Random, *, within_s: float, **env: str
) -> list[str]:
    """Start a kill worker, `kill -9` it a random moment after it is ready; return its ACKs."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.reliability.kill_worker", args[0], str(data_dir),
         *args[1:]], cwd=REPO, env=parley_env(data_dir, PYTHONUNBUFFERED="1", **env),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdout is not None and proc.stderr is not None
    buffer = b""
    deadline = time.monotonic() + 60
    while b"READY\n" not in buffer:
        ready, _, _ = select.select([proc.stdout], [], [], 0.5)
        if ready:
            chunk = os.read(proc.stdout.fileno(), 65536)
            if not chunk:
                raise AssertionError(f"worker died: {proc.stderr.read().decode()[-2000:]}")
            buffer += chunk
        assert time.monotonic() < deadline, "the worker did not start"
    kill_at = time.monotonic() + rng.uniform(0.0, within_s)
    while time.monotonic() < kill_at and proc.poll() is None:
        ready, _, _ = select.select([proc.stdout], [], [], max(0.0, kill_at - time.monotonic()))
        if ready:
            buffer += os.read(proc.stdout.fileno(), 65536)
    proc.kill()
    proc.wait()
    buffer += proc.stdout.read()  # what it printed before it died: each line was committed
    errors = proc.stderr.read().decode(errors="replace")
    proc.stdout.close()
    proc.stderr.close()
    assert proc.returncode in (0, -9), f"the worker failed on its own: {errors[-2000:]}"
    lines = buffer.decode(errors="replace").splitlines()
    return [line[4:] for line in lines if line.startswith("ACK ")]


def test_kill_during_ledger_writes(isolated_dirs: Path, tally: Tally) -> None:
    rng = random.Random(SEED)
    AppContext.open(isolated_dirs).close()
    db_path = isolated_dirs / "parley.sqlite3"
    acked: set[int] = set()
    for _ in range(sized(6, 14)):
        acked |= {int(a) for a in kill_at_random(["ledger"], isolated_dirs, rng, within_s=0.4)}
        ok = integrity_ok(db_path)
        db = open_database(db_path)
        present = {r[0] for r in db.query("SELECT id FROM usage")}
        db.close()
        missing = acked - present
        tally.case(lost=not ok or bool(missing), note=f"missing {sorted(missing)[:5]}")
    assert acked, "no write was acknowledged at all"
    tally.check()


def test_kill_during_settings_saves(isolated_dirs: Path, tally: Tally) -> None:
    rng = random.Random(SEED + 1)
    AppContext.open(isolated_dirs).close()
    last = 0
    for _ in range(sized(5, 10)):
        acks = kill_at_random(["settings"], isolated_dirs, rng, within_s=0.4)
        last = max([last, *map(int, acks)])
        ctx = AppContext.open(isolated_dirs)
        stored = int(ctx.settings.get("reliability.counter", 0))
        ok = ctx.db.scalar("PRAGMA integrity_check") == "ok"
        ctx.close()
        tally.case(lost=not ok or stored < last, note=f"stored {stored} < acked {last}")
    tally.check()


def test_kill_during_an_answer_keeps_its_checkpoints(isolated_dirs: Path, tally: Tally) -> None:
    rng = random.Random(SEED + 2)
    AppContext.open(isolated_dirs).close()
    for _ in range(sized(5, 10)):
        acks = kill_at_random(["answer"], isolated_dirs, rng, within_s=0.4)
        ctx = AppContext.open(isolated_dirs)
        ok = ctx.db.scalar("PRAGMA integrity_check") == "ok"
        recovered = ctx.recover_interrupted()  # what the next start does
        newest = ctx.store.list()[0]
        question, answer = ctx.store.messages(newest.id)
        ctx.close()
        acked = max(map(int, acks), default=0)
        kept = (question.content == "Tell me a long story." and answer.outcome == "interrupted"
                and len(answer.content) >= acked and len(recovered) == 1)  # fmt: skip
        tally.case(lost=not (ok and kept), note=f"{len(answer.content)} < {acked}")
    tally.check()


# Issue 15's migration (the search index over every message) is the slow one to kill in.
SEARCH_MIGRATION = next(i for i, script in enumerate(MIGRATIONS) if "messages_fts" in script)


def _old_database(path: Path, messages: int) -> None:
    """A database at the schema before issue 15's migration, with `messages` messages."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    for version, script in enumerate(MIGRATIONS[:SEARCH_MIGRATION]):
        conn.executescript(f"BEGIN; {script}; PRAGMA user_version = {version + 1}; COMMIT;")
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO conversations (id, title, created_at, updated_at) VALUES (?, ?, 0, 0)",
        [(c, f"Conversation {c}") for c in range(1, messages // 20 + 2)],
    )
    conn.executemany(
        "INSERT INTO messages (conversation_id, position, role, content, created_at) "
        "VALUES (?, ?, 'user', ?, 0)",
        [(i // 20 + 1, i % 20, f"Message {i} über Äpfel and more words " * 4)
         for i in range(messages)],
    )  # fmt: skip
    conn.execute("COMMIT")
    conn.close()


def test_kill_during_a_migration_leaves_the_old_or_the_new_schema(
    isolated_dirs: Path, tmp_path: Path, tally: Tally
) -> None:
    rng = random.Random(SEED + 3)
    template = tmp_path / "old.sqlite3"
    count = sized(20_000, 60_000)
    _old_database(template, count)
    db_path = isolated_dirs / "parley.sqlite3"
    for _ in range(sized(4, 8)):
        isolated_dirs.mkdir(exist_ok=True)
        for suffix in ("", "-wal", "-shm"):
            Path(str(db_path) + suffix).unlink(missing_ok=True)
        shutil.copy(template, db_path)
        kill_at_random(["migrate"], isolated_dirs, rng, within_s=1.5)
        ok = integrity_ok(db_path)
        conn = sqlite3.connect(db_path)
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        rows = conn.execute("SELECT COUNT(*) FROM messages").fetchone()[0]
        conn.close()
        db = open_database(db_path)  # finishes the migration if the kill came first
        found = ConversationStore(db).list("uber")
        db.close()
        # Each migration commits on its own: a kill leaves one of the versions in between.
        tally.case(lost=not ok or version not in range(SEARCH_MIGRATION, SCHEMA_VERSION + 1)
                   or rows != count or not found, note=f"v{version} {rows} rows")  # fmt: skip
    tally.check()


def test_kill_during_a_download_resumes_and_verifies(
    hub_server: HubServer, isolated_dirs: Path, tally: Tally
) -> None:
    rng = random.Random(SEED + 4)
    starter = hub_server.repos[HUB_REPO].files[STARTER_FILE]
    starter.rate = 10 * MB  # slow enough that every kill lands mid-transfer
    AppContext.open(isolated_dirs).close()
    target = f"{HUB_REPO}:{STARTER_FILE}"
    env = {"HF_ENDPOINT": hub_server.endpoint, "HF_HOME": str(isolated_dirs / "hf")}
    for _ in range(sized(4, 8)):
        acks = kill_at_random(["download", target], isolated_dirs, rng, within_s=0.8, **env)
        assert "done" not in acks  # each run was killed before it finished
        ok = integrity_ok(isolated_dirs / "parley.sqlite3")
        tally.case(lost=not ok, note=f"{len(acks)} acks")
    starter.rate = None
    acks = kill_at_random(["download", target], isolated_dirs, rng, within_s=30.0, **env)
    assert acks[-1] == "done"
    installed = isolated_dirs / "models" / STARTER_FILE
    assert hashlib.sha256(installed.read_bytes()).hexdigest() == STARTER.sha256
    body = sum(int(r["range"].split("=")[1].rstrip("-")) if r["range"] else 0
               for r in hub_server.file_requests(STARTER_FILE))  # fmt: skip
    assert body > 0, "no run after a kill resumed from the partial file"
    tally.check()


def test_kill_during_generation_keeps_the_question_and_the_partial_answer(
    data_dir: Path, tally: Tally
) -> None:
    rng = random.Random(SEED + 5)
    env = parley_env(data_dir, PYTHONUNBUFFERED="1")
    for round_ in range(sized(3, 8)):
        prompt = f"Write a very long story about lighthouse number {round_}."
        proc = subprocess.Popen(
            [sys.executable, "-m", "app", "chat", "--max-tokens", "4000", prompt],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=REPO, env=env,
        )  # fmt: skip
        assert proc.stdout is not None
        seen = os.read(proc.stdout.fileno(), 64)  # the first words: generation is under way
        time.sleep(rng.uniform(0.0, 2.5))
        proc.kill()
        proc.wait()
        seen += proc.stdout.read()
        proc.stdout.close()
        ctx = AppContext.open(data_dir)  # the next start: recovers the dangling answer
        ctx.recover_interrupted()
        newest = ctx.store.list()[0]
        question, answer = ctx.store.messages(newest.id)
        ctx.close()
        # An answer the model ended before the kill is whole, and "done": nothing lost.
        kept = (question.content == prompt and answer.outcome in ("interrupted", "done")
                and seen.decode(errors="ignore").startswith(answer.content[:100]))  # fmt: skip
        ok = integrity_ok(data_dir / "parley.sqlite3")
        tally.case(lost=not (kept and ok), note=f"{answer.outcome}: {answer.content[:40]}")
    tally.check()


# --- Regression (issue 15, input 2): is the writer alive? Never signal it, never mistake a
# reused pid for it. On Windows `os.kill(pid, 0)` terminates the process.


@pytest.fixture
def store(tmp_path: Path) -> ConversationStore:
    return ConversationStore(open_database(tmp_path / "w.sqlite3"))


def test_checking_a_live_writer_sends_it_no_signal(
    store: ConversationStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tally: Tally
) -> None:
    script = (
        "import sys, time\n"
        "from app.core.schema import open_database\n"
        "from app.core.chat.conversations import ConversationStore\n"
        "store = ConversationStore(open_database(sys.argv[1]))\n"
        "conv = store.create()\n"
        "store.add_user_message(conv.id, 'q')\n"
        "store.start_assistant_message(conv.id, 'local', 'llama.cpp', 'm')\n"
        "print('WRITING', flush=True)\n"
        "time.sleep(60)\n"
    )
    writer = subprocess.Popen([sys.executable, "-c", script, str(tmp_path / "w.sqlite3")],
                              cwd=REPO, stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert writer.stdout is not None and writer.stdout.readline().strip() == "WRITING"

        def no_signals(pid: int, sig: int) -> None:
            raise AssertionError(f"os.kill({pid}, {sig}) would terminate it on Windows")

        with monkeypatch.context() as patch:
            patch.setattr(os, "kill", no_signals)
            recovered = store.recover_interrupted()  # what `parley conversations list` does
        alive = writer.poll() is None
        [message] = store.db.query("SELECT outcome FROM messages WHERE role = 'assistant'")
        tally.case(lost=not alive or recovered != [] or message["outcome"] != "streaming")
    finally:
        writer.kill()
        writer.wait()
        assert writer.stdout is not None
        writer.stdout.close()
    tally.check()


def test_a_pid_reused_by_another_program_is_not_the_writer(
    store: ConversationStore, tally: Tally
) -> None:
    conv = store.create()
    store.add_user_message(conv.id, "q")
    msg = store.start_assistant_message(conv.id, "local", "llama.cpp", "m")
    store.checkpoint(msg.id, "partial", 1)
    # Start times are compared to a second: let this process be older than that.
    time.sleep(max(0.0, 1.5 - (time.time() - psutil.Process().create_time())))
    other = subprocess.Popen(["sleep", "30"])
    try:
        # The writer crashed and the OS gave its pid to `sleep`, started later.
        assert psutil.Process(other.pid).create_time() > time.time() - 60
        store.db.execute("UPDATE messages SET writer_pid = ? WHERE id = ?", (other.pid, msg.id))
        recovered = store.recover_interrupted()
        tally.case(lost=[m.id for m in recovered] != [msg.id])
        assert store.message(msg.id).outcome == "interrupted"
        assert store.message(msg.id).content == "partial"
        assert other.poll() is None  # and nothing was done to that program
    finally:
        other.kill()
        other.wait()
    tally.check()
