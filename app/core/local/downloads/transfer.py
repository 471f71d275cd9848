"""Download a GGUF from the hub: resumable across restarts, hashed while streaming, verified.

huggingface_hub cannot do this (its partial file is unique per process and
deleted on failure, and it never checks SHA-256), so the bytes come through
httpx from the hub's resolve URL:

- a stable partial file `models/.partial/<key>-<name>.part` with a JSON
  sidecar (size, sha256, ETag), locked while a process writes it;
- resume with `Range: bytes=N-` and `If-Range: <ETag>`: a changed file comes
  back whole (200) and the partial restarts from zero; a `200` whose
  `Content-Range` starts at N (some CDNs and proxies answer so) is a resume;
  any other answer that cannot continue the partial restarts it from zero
  once, and a second one ends the download with a clear error;
- retries are bounded: a request that brings less than `MIN_PROGRESS` counts
  as a failure, and `RETRIES` failures in a row end the download (the bytes
  stay for the next try);
- SHA-256 hashed as bytes arrive (the partial's existing bytes are hashed
  once on resume) and compared with the hub's LFS sha256; a mismatch moves
  the file to `models/.quarantine/`;
- the GGUF header validated before the file is moved into the models folder,
  where `ModelCatalog` lists it.
"""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from app.core.foundation.errors import ModelError, ParleyError
from app.core.foundation.file_lock import FileLock
from app.core.local import hub
from app.core.local.downloads.sink import Sink
from app.core.local.gguf import read_header
from app.core.local.starter import is_verified, mark_verified

if TYPE_CHECKING:
    import threading
    from collections.abc import Callable

    import httpx

    from app.core.local.hub import RemoteFile, RemoteModel

logger = logging.getLogger(__name__)

CHUNK = 1 << 20
DISK_MARGIN = 64 << 20  # keep this much free beyond the file itself
RETRIES = 5
RETRY_DELAYS_S = (0.25, 1.0, 2.0, 4.0, 8.0)
MIN_PROGRESS = 64 << 10  # a request that brings less than this (and doesn't finish) failed
MAX_RESTARTS = 1  # answers that can't continue the partial: start over once, then give up
# Room for the partial's "<key>-" prefix and ".part.json" within the usual 255-byte limit.
MAX_NAME_BYTES = 200
PARTIAL_DIR = ".partial"
QUARANTINE_DIR = ".quarantine"


class DownloadError(ParleyError):
    """A download failed; the partial file is kept unless the message says otherwise."""


class UnsafePathError(DownloadError):
    """A file name from the hub that would land outside the models folder."""


class DiskSpaceError(DownloadError):
    """Not enough free space, before or during a download."""


class ChecksumError(DownloadError):
    """The downloaded bytes do not match the hub's SHA-256: the file is quarantined."""


class DownloadBusyError(DownloadError):
    """Another process is downloading the same file."""


class RestartLoopError(DownloadError):
    """The server keeps answering in a way that can't continue the partial file."""


@dataclass(frozen=True, slots=True)
class DownloadResult:
    path: Path
    size: int
    sha256: str | None
    resumed_from: int  # bytes already on disk when this run started
    already_installed: bool = False


def local_name(repo_path: str) -> str:
    """The file name a hub path gets in the models folder; refuse anything that could escape."""
    bad = (
        not repo_path
        or "\\" in repo_path
        or any(ord(c) < 32 or ord(c) == 127 for c in repo_path)
        or repo_path.startswith("/")
        or any(part in ("..", ".", "") for part in repo_path.split("/"))
    )
    name = PurePosixPath(repo_path).name
    try:
        too_long = len(name.encode("utf-8")) > MAX_NAME_BYTES
    except UnicodeEncodeError:  # a lone surrogate: the hub's JSON named bytes that aren't UTF-8
        bad = too_long = True
    if bad or name.startswith(".") or not name.lower().endswith(".gguf") or ":" in name:
        raise UnsafePathError(
            f"Refused the file name '{repo_path}': it could write outside Parley's models folder.",
            "Download files only from repos you trust; this one names its files unsafely.",
        )
    if too_long:
        raise UnsafePathError(
            f"Refused the file name '{name[:60]}…': it is longer than file systems allow.",
            "Choose another file; this repo names its files unusually.",
        )
    return name


def target_path(models_dir: Path, repo_path: str) -> Path:
    target = models_dir / local_name(repo_path)
    if target.resolve().parent != models_dir.resolve():
        raise UnsafePathError(f"Refused the file name '{repo_path}': it leaves the models folder.")
    return target


def partial_path(models_dir: Path, repo_id: str, revision: str, repo_path: str) -> Path:
    key = hashlib.sha1(f"{repo_id}@{revision}/{repo_path}".encode()).hexdigest()[:12]
    return models_dir / PARTIAL_DIR / f"{key}-{local_name(repo_path)}.part"


def discard_partial(models_dir: Path, repo_id: str, repo_path: str, revision: str = "main") -> None:
    part = partial_path(models_dir, repo_id, revision, repo_path)
    for path in (part, _meta_path(part)):
        path.unlink(missing_ok=True)


def discard_partials(
    models_dir: Path, repo_id: str, repo_path: str, revision: str = "main"
) -> None:
    """Drop the partial files of a model (every part of a split one): a cancelled download."""
    for path in split_paths(repo_path):
        discard_partial(models_dir, repo_id, path, revision)


def split_paths(repo_path: str) -> list[str]:
    match = hub.SPLIT.match(repo_path)
    if not match:
        return [repo_path]
    count = int(match["count"])
    return [f"{match['stem']}-{i:05d}-of-{count:05d}.gguf" for i in range(1, count + 1)]


def partial_size(models_dir: Path, repo_id: str, repo_path: str, revision: str = "main") -> int:
    try:
        return partial_path(models_dir, repo_id, revision, repo_path).stat().st_size
    except (OSError, UnsafePathError):
        return 0


def _meta_path(part: Path) -> Path:
    return part.with_name(part.name + ".json")


def check_disk_space(folder: Path, needed: int) -> None:
    free = shutil.disk_usage(folder).free
    if free < needed + DISK_MARGIN:
        raise DiskSpaceError(
            f"Not enough disk space in {folder}: the download needs {needed / 1e9:.2f} GB more "
            f"and {free / 1e9:.2f} GB is free.",
            "Free some space (delete models you no longer use) and try again.",
        )


class _Transfer:
    """One file's transfer into its partial; `run()` returns False when cancelled."""

    def __init__(
        self,
        client: httpx.Client,
        url: str,
        info: RemoteFile,
        part: Path,
        progress: Callable[[int], None],
        cancel: threading.Event,
        label: str,
    ) -> None:
        self.client, self.url, self.info, self.part = client, url, info, part
        self.progress, self.cancel, self.label = progress, cancel, label
        self.meta_path = _meta_path(part)
        self.meta = self._load_meta()
        self.hasher = hashlib.sha256()
        self.done = 0
        self.restarts = 0

    def _load_meta(self) -> dict[str, Any]:
        fresh = {"size": self.info.size, "sha256": self.info.sha256, "etag": None}
        try:
            meta = json.loads(self.meta_path.read_text())
        except (OSError, ValueError):
            self.part.unlink(missing_ok=True)
            return fresh
        if meta.get("size") != self.info.size or meta.get("sha256") != self.info.sha256:
            logger.info("%s changed on the hub; restarting its download", self.label)
            self.part.unlink(missing_ok=True)
            return fresh
        return dict(meta)

    def _save_meta(self) -> None:
        self.meta_path.write_text(json.dumps(self.meta))

    def _restart(self, why: str) -> None:
        """Start the partial over from zero; the second time in one run is an error."""
        if self.done > 0:
            self.restarts += 1
            if self.restarts > MAX_RESTARTS:
                raise RestartLoopError(
                    f"The download of {self.label} can't continue: the server {why}, "
                    f"and it already had to restart from zero once. "
                    f"{self.done / 1e6:,.0f} MB are kept.",
                    "Try again later; if it keeps happening, a proxy between you and "
                    "Hugging Face is changing the answers.",
                )
            logger.info("%s: the server %s; starting over", self.label, why)
        self.part.write_bytes(b"")
        self.hasher = hashlib.sha256()
        self.done = 0

    def hash_existing(self) -> int:
        if not self.part.exists():
            self.part.write_bytes(b"")
        size = self.part.stat().st_size
        if size > self.info.size:
            self._restart("left a partial file longer than the file")
            return 0
        with self.part.open("rb") as f:
            while chunk := f.read(CHUNK):
                self.hasher.update(chunk)
        self.done = size
        return size

    def run(self) -> bool:
        import httpx
        attempt = 0
        while self.done < self.info.size or not self.part.exists():
            if self.cancel.is_set():
                return False
            before = self.done
            try:
                self._request()
                attempt = 0
            except (httpx.TransportError, _ShortBody) as exc:
                # A flaky link that keeps delivering bytes keeps resuming; one that brings
                # next to nothing per try is counted, so it ends with an error.
                progressed = self.done - before >= MIN_PROGRESS
                attempt = 1 if progressed else attempt + 1
                if attempt > RETRIES:
                    raise DownloadError(
                        f"The download of {self.label} kept failing ({exc or type(exc).__name__}); "
                        f"{self.done / 1e6:,.0f} of {self.info.size / 1e6:,.0f} MB are kept.",
                        "Check your connection and run the download again: it resumes.",
                    ) from exc
                delay = RETRY_DELAYS_S[min(attempt, len(RETRY_DELAYS_S)) - 1]
                logger.warning("%s: %s; resuming in %.1fs", self.label, exc, delay)
                if self.cancel.wait(delay):
                    return False
            if self.done >= self.info.size:
                break
        return not self.cancel.is_set() or self.done >= self.info.size

    def _request(self) -> None:
        headers = {"Accept-Encoding": "identity"}
        if self.done > 0:
            headers["Range"] = f"bytes={self.done}-"
            if etag := self.meta.get("etag"):
                headers["If-Range"] = etag
        with self.client.stream("GET", self.url, headers=headers) as resp:
            if resp.status_code == 416 and self.done == self.info.size:
                return
            if resp.status_code == 416:
                self._restart("refused the range of the partial file")
                return
            hub.raise_for_file_status(resp, *self._repo_and_path())
            if not self._continues(resp):
                return
            self.meta["etag"] = resp.headers.get("ETag") or resp.headers.get("X-Linked-Etag")
            self._save_meta()
            self._stream(resp)

    def _continues(self, resp: httpx.Response) -> bool:
        """Whether `resp`'s body continues the partial (after a restart, from zero).

        A 206, or a 200 with a Content-Range, must start where the partial ends; a
        200 without one must be the whole file, which replaces the partial.
        """
        content_range = resp.headers.get("Content-Range")
        if resp.status_code == 206 or content_range:
            if _starts_at(resp, self.done):
                return True
            self._restart(f"sent another part of the file ({content_range or 'no range'})")
            return False
        if resp.status_code != 200:
            raise DownloadError(
                f"The download of {self.label} got an answer Parley can't use "
                f"(HTTP {resp.status_code}).",
                "Try again later.",
            )
        length = resp.headers.get("Content-Length")
        if length is not None and length.isdigit() and int(length) != self.info.size:
            if self.done == 0:
                raise DownloadError(
                    f"The server sends {int(length):,} bytes for {self.label}, which the "
                    f"hub lists as {self.info.size:,} bytes.",
                    "Try again later; if it keeps happening, the repo or a proxy is serving "
                    "a different file.",
                )
            # Part of the file, but not said which: it can't be placed. Ask again from zero.
            self._restart("answered the resume with a part of the file it didn't name")
            return False
        if self.done > 0:
            self._restart("sent the whole file again (it changed on the hub)")
        return True

    def _repo_and_path(self) -> tuple[str, str]:
        repo, _, path = self.label.partition(":")
        return repo, path

    def _stream(self, resp: httpx.Response) -> None:
        received = self.done
        sink = Sink(self.part, self.hasher, self.done)
        try:
            with sink:
                for chunk in resp.iter_raw():
                    if received + len(chunk) > self.info.size:
                        chunk = chunk[: self.info.size - received]
                    sink.put(chunk)
                    received += len(chunk)
                    self.progress(received)
                    if self.cancel.is_set() or received >= self.info.size:
                        break
        except OSError as exc:
            self.done = sink.written
            if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                self._truncate_to_hashed()
                raise DiskSpaceError(
                    f"The disk filled up while downloading {self.label}; "
                    f"{self.done / 1e6:,.0f} MB are kept.",
                    "Free some space and run the download again: it resumes.",
                ) from exc
            raise
        finally:
            # Whatever happened, resume from what is on disk and in the hash.
            self.done = sink.written
        if self.done < self.info.size and not self.cancel.is_set():
            raise _ShortBody(f"the connection closed at {self.done:,} bytes")

    def _truncate_to_hashed(self) -> None:
        # A failed write may leave part of a chunk on disk that the hash has not seen.
        with self.part.open("r+b") as f:
            f.truncate(self.done)


class _ShortBody(Exception):
    """The server closed the body early."""


def _starts_at(resp: httpx.Response, offset: int) -> bool:
    value: str = resp.headers.get("Content-Range", "")
    return value.startswith(f"bytes {offset}-")


def download_file(
    repo_id: str,
    info: RemoteFile,
    models_dir: Path,
    cancel: threading.Event,
    progress: Callable[[int, int], None] | None = None,
    *,
    revision: str = "main",
    client: httpx.Client | None = None,
) -> DownloadResult | None:
    """Download one file into `models_dir`; None when cancelled (the partial is kept)."""
    target = target_path(models_dir, info.path)
    if target.exists() and info.sha256 and is_verified(target, info.sha256):
        return DownloadResult(target, info.size, info.sha256, info.size, already_installed=True)
    if target.exists():
        raise DownloadError(
            f"A different model file named {target.name} is already installed.",
            f"Delete it first with `parley models delete {target.stem}`.",
        )
    part = partial_path(models_dir, repo_id, revision, info.path)
    part.parent.mkdir(parents=True, exist_ok=True)
    label = f"{repo_id}:{info.path}"
    lock = part.with_name(part.name + ".lock")
    with FileLock(lock) as locked:
        if not locked:
            raise DownloadBusyError(
                f"{target.name} is already being downloaded by another Parley.",
                "Wait for it to finish, or stop the other download first.",
            )
        own = client is None
        client = client or hub.http_client()
        try:
            transfer = _Transfer(
                client, hub.resolve_url(repo_id, info.path, revision), info, part,
                lambda done: progress(done, info.size) if progress else None, cancel, label,
            )  # fmt: skip
            started = transfer.hash_existing()
            check_disk_space(models_dir, info.size - started)
            if progress:
                progress(started, info.size)
            if not transfer.run():
                return None
            digest = transfer.hasher.hexdigest()
        finally:
            if own:
                client.close()
        try:
            _verify(part, info, digest, models_dir)
        finally:
            if not part.exists():  # quarantined: nothing left to resume
                lock.unlink(missing_ok=True)
        os.replace(part, target)
        _meta_path(part).unlink(missing_ok=True)
        if info.sha256:
            mark_verified(target, info.sha256)
        lock.unlink(missing_ok=True)
    logger.info("downloaded %s (%d bytes, resumed from %d)", label, info.size, started)
    return DownloadResult(target, info.size, info.sha256, started)


def _verify(part: Path, info: RemoteFile, digest: str, models_dir: Path) -> None:
    name = local_name(info.path)
    if info.sha256 and digest != info.sha256:
        where = quarantine(part, models_dir, name, f"sha256 {digest} != hub {info.sha256}")
        raise ChecksumError(
            f"{name} failed its checksum: the downloaded bytes are not what Hugging Face lists "
            f"(SHA-256 {digest[:12]}… instead of {info.sha256[:12]}…). It was moved to {where} "
            "and not installed.",
            "Download it again; if it fails again, the repo or a proxy serves a different file.",
        )
    try:
        with part.open("rb") as f:
            read_header(f, name, part.stat().st_size)
    except ModelError as exc:
        where = quarantine(part, models_dir, name, str(exc))
        raise ModelError(
            f"{exc.message} It was moved to {where} and not installed.",
            exc.hint or "Choose another file.",
        ) from exc


def quarantine(part: Path, models_dir: Path, name: str, reason: str) -> Path:
    """Move a bad file aside (kept for inspection, never listed) with a note saying why."""
    folder = models_dir / QUARANTINE_DIR
    folder.mkdir(parents=True, exist_ok=True)
    dest = folder / f"{time.strftime('%Y%m%d-%H%M%S')}-{name}"
    os.replace(part, dest)
    dest.with_name(dest.name + ".reason.txt").write_text(reason + "\n")
    _meta_path(part).unlink(missing_ok=True)
    logger.warning("quarantined %s: %s", dest, reason)
    return dest


def download_model(
    model: RemoteModel,
    models_dir: Path,
    cancel: threading.Event,
    progress: Callable[[int, int], None] | None = None,
    *,
    revision: str = "main",
) -> list[DownloadResult] | None:
    """Every part of a model, one after another, with one progress over all of them."""
    import httpx
    for f in model.files:
        target_path(models_dir, f.path)  # refuse unsafe names before any byte moves
    if not model.complete:
        raise DownloadError(
            f"{model.name} is split into parts and some are missing from {model.repo_id}.",
            "Choose another file.",
        )
    total = model.size
    results: list[DownloadResult] = []
    before = 0
    with hub.http_client() as client:
        for f in model.files:
            offset = before

            def report(done: int, _total: int, offset: int = offset) -> None:
                if progress:
                    progress(offset + done, total)

            try:
                result = download_file(model.repo_id, f, models_dir, cancel, report,
                                       revision=revision, client=client)  # fmt: skip
            except httpx.HTTPError as exc:
                raise hub.unreachable(f"download {f.path}", exc) from exc
            if result is None:
                return None
            results.append(result)
            before += f.size
    return results
