"""Downloads in-process: verify, resume, quarantine, refuse, and survive a full disk."""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
from typing import TYPE_CHECKING

import pytest

from app.core.foundation.errors import ModelError
from app.core.foundation.file_lock import FileLock
from app.core.local import hub
from app.core.local.catalog import ModelCatalog
from app.core.local.downloads.queue import DownloadQueue, DownloadState
from app.core.local.downloads.transfer import (
    ChecksumError,
    DiskSpaceError,
    DownloadBusyError,
    DownloadResult,
    UnsafePathError,
    download_file,
    download_model,
    local_name,
    partial_path,
)
from app.core.schema import open_database
from tests.local.conftest import BROKEN, REPO, SPLIT_FILES, STARTER_FILE

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from tests.helpers.hub_server import HubServer

MB = 1 << 20


@pytest.fixture
def models_dir(tmp_path: Path) -> Path:
    path = tmp_path / "models"
    path.mkdir()
    return path


def fetch(models_dir: Path, filename: str, repo: str = REPO) -> list[DownloadResult] | None:
    return download_model(hub.find_model(repo, filename), models_dir, threading.Event())


def leftovers(models_dir: Path) -> list[str]:
    return sorted(p.name for p in (models_dir / ".partial").glob("*"))


def test_download_verifies_and_lists_the_model(hub_server: HubServer, models_dir: Path) -> None:
    seen: list[tuple[int, int]] = []
    model = hub.find_model(REPO, STARTER_FILE)
    [result] = download_model(
        model, models_dir, threading.Event(), lambda d, t: seen.append((d, t))
    ) or []
    assert result.path == models_dir / STARTER_FILE and result.resumed_from == 0
    assert seen[-1] == (model.size, model.size)
    assert [m.name for m in ModelCatalog(models_dir).list()] == ["SmolLM2-135M-Instruct.Q4_1"]
    assert leftovers(models_dir) == []
    # Redirected like the real hub: resolve -> 302 -> CDN bytes.
    assert any("/resolve/main/" in r["path"] for r in hub_server.requests)
    [again] = fetch(models_dir, STARTER_FILE) or []
    assert again.already_installed


def test_split_model_downloads_every_part_and_lists_once(
    hub_server: HubServer, models_dir: Path
) -> None:
    results = fetch(models_dir, SPLIT_FILES[0]) or []
    assert [r.path.name for r in results] == list(SPLIT_FILES)
    [listed] = ModelCatalog(models_dir).list()
    assert listed.name == "Tiny-Split-Q8_0-00001-of-00002"
    assert listed.size_bytes == sum(r.size for r in results)


def test_network_drop_resumes_with_range_and_if_range(
    hub_server: HubServer, models_dir: Path
) -> None:
    f = hub_server.repos[REPO].files[STARTER_FILE]
    f.drops = [10 * MB, 30 * MB]
    [result] = fetch(models_dir, STARTER_FILE) or []
    assert result.sha256 == f.listed_sha256()
    gets = [r for r in hub_server.file_requests(STARTER_FILE) if r["method"] == "GET"]
    assert [r["range"] for r in gets] == [None, f"bytes={10 * MB}-", f"bytes={40 * MB}-"]
    assert gets[1]["if_range"] == f.etag


def test_changed_file_on_the_hub_restarts_from_zero(
    hub_server: HubServer, models_dir: Path
) -> None:
    info = hub.file_info(REPO, STARTER_FILE)
    part = partial_path(models_dir, REPO, "main", STARTER_FILE)
    part.parent.mkdir(parents=True)
    part.write_bytes(b"\0" * MB)  # bytes of an older version of the file
    meta = {"size": info.size, "sha256": info.sha256, "etag": '"an-older-etag"'}
    part.with_name(part.name + ".json").write_text(json.dumps(meta))
    result = download_file(REPO, info, models_dir, threading.Event())
    assert result is not None and result.resumed_from == MB
    first = hub_server.file_requests(STARTER_FILE)[0]
    assert first["range"] == f"bytes={MB}-" and first["if_range"] == '"an-older-etag"'
    assert (models_dir / STARTER_FILE).stat().st_size == info.size  # 200 came back: restarted


def test_cancel_keeps_the_partial_and_a_new_run_continues(
    hub_server: HubServer, models_dir: Path
) -> None:
    hub_server.repos[REPO].files[STARTER_FILE].rate = 100 * MB
    cancel = threading.Event()

    def stop_early(done: int, total: int) -> None:
        if done > 8 * MB:
            cancel.set()

    info = hub.file_info(REPO, STARTER_FILE)
    assert download_file(REPO, info, models_dir, cancel, stop_early) is None
    kept = partial_path(models_dir, REPO, "main", STARTER_FILE).stat().st_size
    assert kept > 8 * MB
    hub_server.repos[REPO].files[STARTER_FILE].rate = None
    result = download_file(REPO, info, models_dir, threading.Event())
    assert result is not None and result.resumed_from == kept


def test_hash_mismatch_is_quarantined(hub_server: HubServer, models_dir: Path) -> None:
    with pytest.raises(ChecksumError, match="failed its checksum") as info:
        fetch(models_dir, "Corrupt-Q4_1.gguf", BROKEN)
    assert "not installed" in str(info.value)
    [quarantined] = [p for p in (models_dir / ".quarantine").iterdir() if p.suffix == ".gguf"]
    assert quarantined.name.endswith("Corrupt-Q4_1.gguf")
    assert ModelCatalog(models_dir).list() == []
    assert not (models_dir / "Corrupt-Q4_1.gguf").exists()
    assert leftovers(models_dir) == []


@pytest.mark.parametrize(("filename", "message"), [
    ("Truncated-Q4_1.gguf", "truncated"),
    ("NotGGUF-Q4_1.gguf", "not a GGUF"),
])  # fmt: skip
def test_bad_gguf_is_quarantined_after_download(
    hub_server: HubServer, models_dir: Path, filename: str, message: str
) -> None:
    info = hub.file_info(BROKEN, filename)
    with pytest.raises(ModelError, match=message):
        download_file(BROKEN, info, models_dir, threading.Event())
    assert ModelCatalog(models_dir).list() == []
    assert any(p.name.endswith(filename) for p in (models_dir / ".quarantine").iterdir())


@pytest.mark.parametrize("name", [
    "../escape.gguf", "a/../../b.gguf", "/etc/x.gguf", "..\\x.gguf", ".hidden.gguf", "x.exe", "",
])  # fmt: skip
def test_unsafe_names_are_refused(name: str) -> None:
    with pytest.raises(UnsafePathError, match="Refused the file name"):
        local_name(name)


def test_hub_file_escaping_the_models_folder_is_refused(
    hub_server: HubServer, models_dir: Path
) -> None:
    with pytest.raises(UnsafePathError, match="outside Parley's models folder"):
        fetch(models_dir, "../escape-Q4_1.gguf", BROKEN)
    assert not (models_dir.parent / "escape-Q4_1.gguf").exists()
    assert hub_server.file_requests("escape-Q4_1.gguf") == []
    assert local_name("Q4_K_M/Model-Q4_K_M.gguf") == "Model-Q4_K_M.gguf"


def test_a_second_downloader_is_refused(hub_server: HubServer, models_dir: Path) -> None:
    info = hub.file_info(REPO, STARTER_FILE)
    part = partial_path(models_dir, REPO, "main", STARTER_FILE)
    part.parent.mkdir(parents=True)
    with FileLock(part.with_name(part.name + ".lock")) as locked:
        assert locked
        with pytest.raises(DownloadBusyError, match="already being downloaded"):
            download_file(REPO, info, models_dir, threading.Event())


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "small"
    mount.mkdir()
    if shutil.which("mount") is None:
        pytest.skip("no mount command to make a small filesystem")
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=200m", "tmpfs", str(mount)],
                          capture_output=True, text=True, check=False)  # fmt: skip
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here ({proc.stderr.strip()})")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_not_enough_space_is_refused_before_any_byte(
    hub_server: HubServer, small_fs: Path
) -> None:
    (small_fs / "filler").write_bytes(b"\0" * (150 * MB))
    models = small_fs / "models"
    models.mkdir()
    with pytest.raises(DiskSpaceError, match="Not enough disk space"):
        fetch(models, STARTER_FILE)
    assert [r for r in hub_server.file_requests(STARTER_FILE) if r["method"] == "GET"] == []


def test_disk_full_mid_download_keeps_the_partial(hub_server: HubServer, small_fs: Path) -> None:
    hub_server.repos[REPO].files[STARTER_FILE].rate = 80 * MB
    models = small_fs / "models"
    models.mkdir()
    filler = small_fs / "filler"
    filled = threading.Event()

    def fill_disk(done: int, total: int) -> None:
        if done > 10 * MB and not filled.is_set():
            filled.set()
            free = shutil.disk_usage(small_fs).free
            filler.write_bytes(b"\0" * (free - 2 * MB))

    info = hub.file_info(REPO, STARTER_FILE)
    with pytest.raises(DiskSpaceError, match="disk filled up") as err:
        download_file(REPO, info, models, threading.Event(), fill_disk)
    assert "resumes" in str(err.value)
    part = partial_path(models, REPO, "main", STARTER_FILE)
    kept = part.stat().st_size
    # What reached the disk before it filled (10 MB received, less the batch in flight).
    assert kept > 8 * MB
    filler.unlink()
    hub_server.repos[REPO].files[STARTER_FILE].rate = None
    result = download_file(REPO, info, models, threading.Event())
    assert result is not None and result.resumed_from == kept
    assert [m.name for m in ModelCatalog(models).list()] == ["SmolLM2-135M-Instruct.Q4_1"]


def test_queue_survives_a_restart(tmp_path: Path) -> None:
    db = open_database(tmp_path / "q.sqlite3")
    queue = DownloadQueue(db)
    a = queue.add(REPO, STARTER_FILE, 100)
    b = queue.add(REPO, "other.gguf", 50)
    queue.set_state(a.id, DownloadState.RUNNING)
    queue.set_progress(a.id, 40, 100)
    queue.set_state(b.id, DownloadState.PAUSED)
    db.close()
    reopened = DownloadQueue(open_database(tmp_path / "q.sqlite3"))
    resumable = reopened.recover()
    assert [(e.path, e.state, e.done) for e in resumable] == [
        (STARTER_FILE, DownloadState.QUEUED, 40)
    ]
    assert reopened.add(REPO, STARTER_FILE, 100).id == a.id  # the same entry, queued again
    reopened.db.close()
