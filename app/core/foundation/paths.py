"""Where Parley keeps its data: `PARLEY_DATA_DIR`, else the platform's user data dir."""

from __future__ import annotations

import logging
import os
import stat
import tempfile
from pathlib import Path

import platformdirs

from app.core.foundation.errors import DataDirError

logger = logging.getLogger(__name__)

DATA_DIR_ENV = "PARLEY_DATA_DIR"
PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600
CACHE_DIR_ENV = "PARLEY_CACHE_DIR"


def data_dir() -> Path:
    override = os.environ.get(DATA_DIR_ENV)
    if override:
        return Path(override).expanduser()
    return Path(platformdirs.user_data_dir("Parley", appauthor=False))


def cache_dir() -> Path:
    override = os.environ.get(CACHE_DIR_ENV)
    if override:
        return Path(override).expanduser()
    return Path(platformdirs.user_cache_dir("Parley", appauthor=False))


def models_dir(root: Path | None = None) -> Path:
    return (root or data_dir()) / "models"


def database_path(root: Path | None = None) -> Path:
    return (root or data_dir()) / "parley.sqlite3"


def log_path(root: Path | None = None) -> Path:
    return (root or data_dir()) / "parley.log"


def ensure_writable_dir(path: Path) -> Path:
    """Create `path` if needed and prove we can write there, or raise `DataDirError`."""
    try:
        path.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".write-test-"):
            pass
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise DataDirError(
            f"Parley can't write to its data folder {path} ({reason}).",
            f"Make it writable, or start Parley with {DATA_DIR_ENV} set to a folder you own.",
        ) from exc
    return path


def make_private(root: Path) -> list[Path]:
    """The data folder readable by its owner only: `root` and `root/backups` 0700, the
    files in them (database, its WAL and shared memory, log, backups) 0600. Returns what
    had to be tightened (an install from before this rule), which is logged once.

    On Windows the folder already has the user profile's per-user ACL.
    """
    if os.name == "nt":
        return []
    changed: list[Path] = []
    for folder in (root, root / "backups"):
        if not _tighten(folder, PRIVATE_DIR, changed):
            continue
        try:
            entries = list(folder.iterdir())
        except OSError:
            continue
        for entry in entries:
            if entry.is_file() and not entry.is_symlink():
                _tighten(entry, PRIVATE_FILE, changed)
    if changed:
        logger.info("made the data folder private (owner only): %s",
                    ", ".join(str(p) for p in changed))  # fmt: skip
    return changed


def _tighten(path: Path, mode: int, changed: list[Path]) -> bool:
    """chmod `path` to `mode` when it grants more; False when it does not exist."""
    try:
        current = stat.S_IMODE(path.stat().st_mode)
        if current & ~mode:
            os.chmod(path, mode)
            changed.append(path)
    except FileNotFoundError:
        return False
    except OSError as exc:  # another user's file: say so, go on
        logger.warning("could not make %s private: %s", path, exc)
    return True
