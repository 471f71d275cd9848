"""Issue 22, input 10: another user on the machine read a prompt from the database and a
backup (folder 755, files 644). The data folder is the owner's alone."""

from __future__ import annotations

import logging
import os
import stat
import sys
from typing import TYPE_CHECKING

import pytest

from app.core.context import AppContext
from app.core.foundation.backups import _make_backup
from app.core.schema import open_database
from app.logs import configure_logging

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX modes")


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_data_folder_is_private(tmp_path: Path) -> None:
    root = tmp_path / "fresh"
    ctx = AppContext.open(root)
    try:
        conv = ctx.store.create()
        ctx.store.add_user_message(conv.id, "my secret prompt")
        assert mode(root) == 0o700
        db_files = [p for p in root.iterdir() if p.name.startswith("parley.sqlite3")]
        assert {p.name for p in db_files} >= {"parley.sqlite3", "parley.sqlite3-wal"}
        assert {p.name: mode(p) for p in db_files} == {p.name: 0o600 for p in db_files}
        backup = _make_backup(root / "parley.sqlite3", keep=3, now=None)
        assert backup is not None
        assert (mode(backup.parent), mode(backup)) == (0o700, 0o600)
    finally:
        ctx.close()


def test_an_older_install_is_tightened_on_start_and_says_so(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    root = tmp_path / "old"
    root.mkdir(mode=0o755)
    os.chmod(root, 0o755)
    open_database(root / "parley.sqlite3").close()
    (root / "parley.log").write_text("old log\n")
    (root / "backups").mkdir(mode=0o755)
    (root / "backups" / "parley-20260101-000000.sqlite3").write_bytes(b"a prompt")
    for p in (root / "parley.sqlite3", root / "parley.log",
              root / "backups" / "parley-20260101-000000.sqlite3"):
        os.chmod(p, 0o644)
    os.chmod(root / "backups", 0o755)
    with caplog.at_level(logging.INFO, logger="app.core.foundation.paths"):
        AppContext.open(root).close()
    assert mode(root) == 0o700 and mode(root / "backups") == 0o700
    for p in (root / "parley.sqlite3", root / "parley.log",
              root / "backups" / "parley-20260101-000000.sqlite3"):
        assert mode(p) == 0o600, p
    assert "made the data folder private" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="app.core.foundation.paths"):
        AppContext.open(root).close()
    assert "made the data folder private" not in caplog.text  # said once


def test_the_log_file_is_created_private(tmp_path: Path) -> None:
    log = tmp_path / "parley.log"
    root = logging.getLogger()
    before = list(root.handlers)
    configure_logging(log)
    try:
        assert mode(log) == 0o600
    finally:
        for handler in root.handlers[:]:
            if handler not in before:
                root.removeHandler(handler)
                handler.close()
