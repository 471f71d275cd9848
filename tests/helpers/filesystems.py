"""Small and read-only filesystems for storage-fault tests.

A real full disk needs a small filesystem: a tmpfs mounted by the test, which
takes root (or CAP_SYS_ADMIN). Where that is impossible, `small_filesystem`
yields None and the caller simulates the full disk instead (and says so). A
read-only folder is a read-only bind mount for root (who ignores permission
bits) and plain permissions for anyone else.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path


def _run(*args: str) -> bool:
    if shutil.which(args[0]) is None:
        return False
    return subprocess.run(args, capture_output=True, check=False).returncode == 0


@contextlib.contextmanager
def small_filesystem(path: Path, size_mb: int) -> Iterator[Path | None]:
    """A tmpfs of `size_mb` at `path`, or None when this process may not mount one."""
    path.mkdir(parents=True, exist_ok=True)
    if not _run("mount", "-t", "tmpfs", "-o", f"size={size_mb}m", "tmpfs", str(path)):
        yield None
        return
    try:
        yield path
    finally:
        _run("umount", "-l", str(path))


def fill(folder: Path, leave_bytes: int = 0) -> Path:
    """Fill the filesystem holding `folder` until `leave_bytes` or fewer are free."""
    filler = folder / "filler"
    with filler.open("wb") as f:
        chunk = b"\0" * (1 << 20)
        while (free := shutil.disk_usage(folder).free) > leave_bytes:
            try:
                f.write(chunk[: max(1, min(len(chunk), free - leave_bytes))])
                f.flush()
            except OSError:
                break
    return filler


@contextlib.contextmanager
def read_only(path: Path) -> Iterator[str]:
    """Make `path` read-only for this user; yields how ("bind mount" or "permissions")."""
    if os.geteuid() == 0:
        if not (_run("mount", "--bind", str(path), str(path))
                and _run("mount", "-o", "remount,bind,ro", str(path))):  # fmt: skip
            _run("umount", str(path))
            raise OSError("root ignores permissions and may not mount here")
        try:
            yield "bind mount"
        finally:
            _run("umount", "-l", str(path))
        return
    modes = {p: p.stat().st_mode for p in [path, *path.rglob("*")]}
    for p in modes:
        p.chmod(0o555 if p.is_dir() else 0o444)
    try:
        yield "permissions"
    finally:
        for p, mode in modes.items():
            p.chmod(mode)
