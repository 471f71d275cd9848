"""Where Parley keeps its data: `PARLEY_DATA_DIR`, else the platform's user data dir."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import platformdirs

from app.core.foundation.errors import DataDirError

DATA_DIR_ENV = "PARLEY_DATA_DIR"
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
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".write-test-"):
            pass
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise DataDirError(
            f"Parley can't write to its data folder {path} ({reason}).",
            f"Make it writable, or start Parley with {DATA_DIR_ENV} set to a folder you own.",
        ) from exc
    return path
