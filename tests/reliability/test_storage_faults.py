"""Storage faults: a full disk during chat, ledger writes and downloads; a read-only data
folder; a damaged database (restored from a rolling backup); a database from a newer
Parley (refused, untouched). Each ends in a clear message and loses nothing saved."""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import threading
from typing import TYPE_CHECKING

import pytest
from PySide6.QtWidgets import QMessageBox

from app.core.context import AppContext
from app.core.foundation import backups
from app.core.foundation.db_errors import CorruptDatabaseError, DiskFullError, NewerSchemaError
from app.core.foundation.errors import DataDirError
from app.core.llm.contract import GenerationResult, Outcome, TokenSource, Usage
from app.core.local import hub
from app.core.local.downloads import transfer
from app.core.local.downloads.transfer import DiskSpaceError, download_file, partial_path
from app.core.schema import SCHEMA_VERSION
from tests.helpers.filesystems import fill, read_only, small_filesystem
from tests.local.conftest import REPO, STARTER_FILE
from tests.reliability.support import add_exchange, run_parley

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from pytestqt.qtbot import QtBot

    from tests.helpers.hub_server import HubServer
    from tests.reliability.conftest import Tally

pytestmark = [pytest.mark.reliability("storage"), pytest.mark.qt_log_ignore("propagateSizeHints")]
MB = 1 << 20
RESULT = GenerationResult(
    text="", outcome=Outcome.DONE, usage=Usage(10, 20, TokenSource.COUNTED),
    backend="fault", provider="example", model="m", ttft_s=0.1, duration_s=0.2,
)  # fmt: skip


def snapshot(folder: Path) -> dict[str, str]:
    """Every file under `folder` with its SHA-256: what "touches nothing" compares.

    The log is left out: it records the refusal, which is the point.
    """
    files = [p for p in sorted(folder.rglob("*")) if p.is_file() and p.name != "parley.log"]
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


def clear(run_stderr: str) -> bool:
    return "Traceback" not in run_stderr and "parley:" in run_stderr


# --- a database from a newer Parley -------------------------------------------------


@pytest.mark.parametrize("journal", ["delete", "wal"])
def test_a_newer_database_is_refused_and_left_untouched(
    isolated_dirs: Path, journal: str, tally: Tally
) -> None:
    ctx = AppContext.open(isolated_dirs)
    add_exchange(ctx, "Written by a newer Parley", "ok")
    ctx.close()
    db_path = isolated_dirs / "parley.sqlite3"
    conn = sqlite3.connect(db_path)
    conn.execute(f"PRAGMA journal_mode={journal}")
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    before = snapshot(isolated_dirs)
    with pytest.raises(NewerSchemaError, match="newer Parley") as err:
        AppContext.open(isolated_dirs)
    assert "left untouched" in str(err.value) and "Update Parley" in str(err.value)
    run = run_parley(["conversations", "list"], isolated_dirs)
    after = snapshot(isolated_dirs)
    tally.case(lost=before != after, hung=run.hung, note=f"{set(after) ^ set(before)}")
    tally.case(lost=run.code != 1 or not clear(run.stderr), note=run.stderr[-300:])
    assert "newer Parley" in run.stderr
    tally.check()


# --- a read-only data folder ----------------------------------------------------------


def test_a_read_only_data_folder_is_explained_and_kept(isolated_dirs: Path, tally: Tally) -> None:
    ctx = AppContext.open(isolated_dirs)
    add_exchange(ctx, "Keep me", "kept")
    ctx.close()
    before = snapshot(isolated_dirs)
    try:
        with read_only(isolated_dirs) as how:
            runs = [run_parley(args, isolated_dirs) for args in
                    (["conversations", "list"], ["chat", "Hi"], ["usage"])]  # fmt: skip
    except OSError as exc:
        pytest.skip(str(exc))
    for run in runs:
        says = "can't write to its data folder" in run.stderr
        tally.case(hung=run.hung, lost=run.code != 1 or not says or not clear(run.stderr),
                   note=f"{how}: {run.stderr[-200:]}")  # fmt: skip
    tally.case(lost=snapshot(isolated_dirs) != before)
    ctx = AppContext.open(isolated_dirs)
    assert [c.title for c in ctx.store.list()] == ["Keep me"]
    ctx.close()
    tally.check()


# --- a damaged database, and its backups ---------------------------------------------


def _damage(db_path: Path, where: str) -> None:
    with db_path.open("r+b") as f:
        if where == "header":
            f.write(b"\0" * 100)
        else:  # pages in the middle: tables and indexes, not the schema
            size = db_path.stat().st_size
            for offset in range(size // 3, size * 2 // 3, 4096):
                f.seek(offset + 100)
                f.write(os.urandom(400))


@pytest.fixture
def filled(isolated_dirs: Path) -> Path:
    """A data folder with 300 conversations, checkpointed into the main file."""
    ctx = AppContext.open(isolated_dirs)
    for i in range(300):
        add_exchange(ctx, f"Question {i} " + "words " * 50, f"Answer {i} " + "more " * 80)
        ctx.ledger.record(RESULT, conversation_id=None, message_id=None)
    ctx.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    ctx.close()
    return isolated_dirs


@pytest.mark.parametrize("where", ["header", "pages"])
def test_a_damaged_database_offers_the_newest_good_backup(
    filled: Path, where: str, monkeypatch: pytest.MonkeyPatch, tally: Tally
) -> None:
    from app.ui.app import create_application, open_context

    create_application()
    db_path = filled / "parley.sqlite3"
    first = backups.make_backup(db_path, now=1_700_000_000)
    second = backups.make_backup(db_path, now=1_700_100_000)
    assert first and second and backups.backups(db_path) == [second, first]
    _damage(db_path, where)
    if where == "pages":
        # Opening may work; the first query that reads a damaged page says so clearly...
        ctx = AppContext.open(filled)

        def read_everything() -> None:
            for conv in ctx.store.list(limit=10_000):
                ctx.store.messages(conv.id)
            ctx.db.scalar("SELECT SUM(prompt_tokens) FROM usage")

        with pytest.raises(CorruptDatabaseError, match="damaged"):
            read_everything()
        ctx.close()
    # ...and the next start finds it damaged and offers the backup.
    with pytest.raises(CorruptDatabaseError, match="damaged"):
        AppContext.open(filled)
    monkeypatch.setattr(QMessageBox, "exec", lambda self: QMessageBox.StandardButton.Yes)
    ctx = open_context()
    assert ctx is not None
    titles = [c.title for c in ctx.store.list(limit=10_000)]
    rows = ctx.db.scalar("SELECT COUNT(*) FROM usage")
    ctx.close()
    aside = [p.name for p in filled.iterdir() if ".damaged-" in p.name]
    tally.case(lost=len(titles) != 300 or rows != 300 or not aside,
               note=f"{len(titles)} conversations, {rows} rows, {aside}")  # fmt: skip
    tally.check()


def test_no_backup_means_a_clear_message_and_the_file_left_alone(
    filled: Path, monkeypatch: pytest.MonkeyPatch, tally: Tally
) -> None:
    from app.ui.app import create_application, open_context

    create_application()
    db_path = filled / "parley.sqlite3"
    _damage(db_path, "header")
    before = snapshot(filled)
    shown: list[str] = []
    monkeypatch.setattr(QMessageBox, "critical", lambda *args: shown.append(args[2]))
    assert open_context() is None
    tally.case(lost=snapshot(filled) != before or not shown or "damaged" not in shown[0])
    tally.check()


def test_backups_roll_and_are_taken_while_the_app_writes(filled: Path, tally: Tally) -> None:
    db_path = filled / "parley.sqlite3"
    ctx = AppContext.open(filled)
    stop = threading.Event()

    def keep_writing() -> None:
        while not stop.is_set():
            ctx.ledger.record(RESULT, conversation_id=None, message_id=None)

    writer = threading.Thread(target=keep_writing)
    writer.start()
    try:
        made = [backups.make_backup(db_path, now=1_700_000_000 + day * 86_400)
                for day in range(5)]  # fmt: skip
    finally:
        stop.set()
        writer.join()
        ctx.close()
    kept = backups.backups(db_path)
    assert all(made) and kept == made[:-4:-1]  # the newest three
    for backup in kept:
        conn = sqlite3.connect(backup)
        ok = conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        count = conn.execute("SELECT COUNT(*) FROM messages").fetchone()[0]
        conn.close()
        tally.case(lost=not ok or count != 600)
    assert not backups.backup_due(db_path, now=1_700_000_000 + 4 * 86_400 + 3600)
    assert backups.backup_due(db_path, now=1_700_000_000 + 6 * 86_400)
    tally.check()


# --- a full disk -----------------------------------------------------------------------


@pytest.fixture
def small_data(tmp_path: Path, starter_path: Path, monkeypatch: pytest.MonkeyPatch
               ) -> Iterator[tuple[Path, bool]]:  # fmt: skip
    """A data folder on a 64 MB filesystem (the model is linked from elsewhere), and whether
    the full disk is real (True) or simulated with SQLite's page limit (False)."""
    with small_filesystem(tmp_path / "small", 64) as mount:
        data = (mount or tmp_path / "simulated") / "data"
        monkeypatch.setenv("PARLEY_DATA_DIR", str(data))
        ctx = AppContext.open(data)
        (data / "models").mkdir(exist_ok=True)
        (data / "models" / starter_path.name).symlink_to(starter_path)
        add_exchange(ctx, "Saved before the disk filled", "kept")
        ctx.close()
        yield data, mount is not None


def _full(ctx: AppContext, data: Path, real: bool) -> None:
    if real:
        fill(data.parent)
    else:  # the same SQLITE_FULL a full disk gives, from SQLite's own page limit
        pages = ctx.db.scalar("PRAGMA page_count")
        ctx.db.execute(f"PRAGMA max_page_count = {pages}")


def test_a_full_disk_during_ledger_writes(small_data: tuple[Path, bool], tally: Tally) -> None:
    data, real = small_data
    tally.simulated = "" if real else "SQLite max_page_count (no tmpfs: not root here)"
    ctx = AppContext.open(data)
    before = ctx.db.scalar("SELECT COUNT(*) FROM usage")
    _full(ctx, data, real)
    written = 0

    def write_until_full() -> None:
        nonlocal written
        for _ in range(100_000):
            ctx.ledger.record(RESULT, conversation_id=None, message_id=None)
            written += 1

    with pytest.raises(DiskFullError, match="is full") as err:
        write_until_full()
    assert "everything saved before is kept" in str(err.value)
    for filler in data.parent.glob("filler"):
        filler.unlink()
    ctx.close()
    ctx = AppContext.open(data)
    rows = ctx.db.scalar("SELECT COUNT(*) FROM usage")
    ok = ctx.db.scalar("PRAGMA integrity_check") == "ok"
    titles = [c.title for c in ctx.store.list()]
    ctx.close()
    tally.case(lost=not ok or rows < before + written or titles != ["Saved before the disk filled"])
    tally.check()


def test_a_full_disk_during_chat(small_data: tuple[Path, bool], tally: Tally) -> None:
    data, real = small_data
    if not real:
        pytest.skip("a full disk for another process needs a small filesystem (root)")
    fill(data.parent)
    run = run_parley(["chat", "--max-tokens", "16", "Hello"], data, timeout=120)
    (data.parent / "filler").unlink()
    says = "is full" in run.stderr
    tally.case(hung=run.hung, lost=run.code != 1 or not says or not clear(run.stderr),
               note=run.stderr[-400:])  # fmt: skip
    ctx = AppContext.open(data)
    ok = ctx.db.scalar("PRAGMA integrity_check") == "ok"
    titles = [c.title for c in ctx.store.list()]
    ctx.close()
    tally.case(lost=not ok or "Saved before the disk filled" not in titles)
    tally.check()


def test_a_full_disk_during_a_download_keeps_the_partial(
    hub_server: HubServer, small_data: tuple[Path, bool], tally: Tally
) -> None:
    data, real = small_data
    if not real:
        pytest.skip("a full disk for downloads needs a small filesystem (root)")
    models = data / "downloaded"  # models/ holds a link to the starter already
    models.mkdir()
    info = hub.file_info(REPO, STARTER_FILE)
    with pytest.raises(DiskSpaceError, match="Not enough disk space"):
        download_file(REPO, info, models, threading.Event())  # 98 MB into 64: refused first
    tally.case(lost=bool(hub_server.file_requests(STARTER_FILE)))  # refused before any byte
    # Room claimed, then taken while bytes arrive: the partial is kept for a resume.
    original = transfer.check_disk_space
    transfer.check_disk_space = lambda folder, needed: None  # type: ignore[assignment]
    try:
        with pytest.raises(DiskSpaceError, match="disk filled up") as err:
            download_file(REPO, info, models, threading.Event())
    finally:
        transfer.check_disk_space = original  # type: ignore[assignment]
    part = partial_path(models, REPO, "main", STARTER_FILE)
    kept = part.stat().st_size
    tally.case(lost=kept == 0 or "resumes" not in str(err.value),
               note=f"{kept} bytes kept, {shutil.disk_usage(models).free} free")  # fmt: skip
    tally.check()


def test_unwritable_everything_is_a_data_dir_error(tmp_path: Path, tally: Tally) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(DataDirError, match="can't write to its data folder"):
        AppContext.open(blocker / "data")
    tally.case()
    tally.check()


def test_the_window_backs_up_once_a_day_off_the_gui_thread(
    qtbot: QtBot, ctx: AppContext, tally: Tally
) -> None:
    from app.ui.main_window import MainWindow
    from app.workers import WorkerPool

    add_exchange(ctx, "Back me up", "ok")
    pool = WorkerPool()
    window = MainWindow(ctx, pool)
    qtbot.addWidget(window)
    try:
        assert window.back_up_daily() is not None
        db_path = ctx.db.path
        assert not isinstance(db_path, str)
        qtbot.waitUntil(lambda: bool(backups.backups(db_path)), timeout=30_000)
        qtbot.waitUntil(lambda: not pool.active_jobs())
        [made] = backups.backups(db_path)
        conn = sqlite3.connect(made)
        titles = [r[0] for r in conn.execute("SELECT title FROM conversations")]
        conn.close()
        tally.case(lost=titles != ["Back me up"])
        assert window.back_up_daily() is None  # not again the same day
    finally:
        window.close()
        pool.shutdown()
    tally.check()
