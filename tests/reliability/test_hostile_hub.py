"""Hostile hub answers: ranges answered oddly, names that try to escape, sizes and hashes that
lie, redirects to other hosts. Each download ends verified or with a clear error, in a
bounded number of requests, and writes nothing outside the models folder."""

from __future__ import annotations

import hashlib
import threading
from typing import TYPE_CHECKING

import pytest

from app.core.foundation.errors import ParleyError
from app.core.local import hub
from app.core.local.catalog import ModelCatalog
from app.core.local.downloads.transfer import (
    DownloadError,
    UnsafePathError,
    download_file,
    download_model,
    local_name,
    partial_path,
)
from app.core.local.hub import RemoteFile
from tests.helpers.gguf_files import tiny_gguf
from tests.helpers.hub_server import HubFile, HubServer
from tests.local.conftest import REPO, STARTER_FILE

if TYPE_CHECKING:
    from pathlib import Path

    from tests.reliability.conftest import Tally

pytestmark = pytest.mark.reliability("hub")
MB = 1 << 20
HOSTILE = "hostile/Repo-GGUF"


@pytest.fixture
def models_dir(tmp_path: Path) -> Path:
    path = tmp_path / "data" / "models"
    path.mkdir(parents=True)
    return path


def _gets(server: HubServer, path: str) -> list[dict[str, object]]:
    return [r for r in server.file_requests(path) if r["method"] == "GET"]


def _download_with_deadline(
    models_dir: Path, info: RemoteFile, seconds: float, repo: str = REPO
) -> object:
    """Download, but give up (cancel) after `seconds`: a loop must not run forever in a test."""
    cancel = threading.Event()
    timer = threading.Timer(seconds, cancel.set)
    timer.start()
    try:
        return download_file(repo, info, models_dir, cancel)
    finally:
        timer.cancel()


def test_a_resume_answered_200_with_the_asked_range_continues(
    hub_server: HubServer, models_dir: Path, tally: Tally
) -> None:
    """Regression (issue 15, input 3): `200 OK` + `Content-Range: bytes N-…` + that slice
    made Parley write the slice at offset 0 and download again forever."""
    f = hub_server.repos[REPO].files[STARTER_FILE]
    f.range_reply = "200+range"
    f.drops = [10 * MB, 30 * MB]
    info = hub.file_info(REPO, STARTER_FILE)
    result = _download_with_deadline(models_dir, info, 30.0)
    gets = _gets(hub_server, STARTER_FILE)
    tally.case(hung=result is None, lost=len(gets) > 3, note=f"{len(gets)} requests")
    assert result is not None, f"no result after {len(gets)} requests"
    assert [r["range"] for r in gets] == [None, f"bytes={10 * MB}-", f"bytes={40 * MB}-"]
    installed = models_dir / STARTER_FILE
    assert hashlib.sha256(installed.read_bytes()).hexdigest() == f.listed_sha256()
    tally.check()


def test_short_200s_restart_once_then_fail_clearly(
    hub_server: HubServer, models_dir: Path, tally: Tally
) -> None:
    """A proxy that answers every range with a short 200 and no Content-Range: one restart
    from zero, then a clear error, with the bytes that are good kept."""
    f = hub_server.repos[REPO].files[STARTER_FILE]
    f.range_reply = "200-short"
    f.drops = [10 * MB] * 20
    info = hub.file_info(REPO, STARTER_FILE)
    with pytest.raises(DownloadError, match="restart") as err:
        _download_with_deadline(models_dir, info, 60.0)
    gets = _gets(hub_server, STARTER_FILE)
    tally.case(hung=len(gets) > 8, note=f"{len(gets)} requests")
    assert "try again" in str(err.value).lower() or "resumes" in str(err.value)
    assert not (models_dir / STARTER_FILE).exists()
    tally.check()


def test_a_file_that_keeps_dropping_ends_with_a_clear_error(
    hub_server: HubServer, models_dir: Path, tally: Tally, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Retries are bounded even when each try delivers a few bytes."""
    monkeypatch.setattr("app.core.local.downloads.transfer.RETRY_DELAYS_S", (0.0,) * 5)
    f = hub_server.repos[REPO].files[STARTER_FILE]
    f.drops = [1000] * 200
    info = hub.file_info(REPO, STARTER_FILE)
    with pytest.raises(DownloadError, match="kept failing"):
        _download_with_deadline(models_dir, info, 60.0)
    gets = _gets(hub_server, STARTER_FILE)
    tally.case(hung=len(gets) > 20, note=f"{len(gets)} requests")
    kept = partial_path(models_dir, REPO, "main", STARTER_FILE).stat().st_size
    assert kept == 1000 * (len(gets))  # every byte that came is kept for the next try
    tally.check()


@pytest.fixture
def hostile_repo(hub_server: HubServer) -> HubServer:
    repo = hub_server.repo(HOSTILE, downloads=1)
    names = [
        "../../outside-Q4_0.gguf", "/etc/parley-Q4_0.gguf", "a/../../b-Q4_0.gguf",
        "..\\win-Q4_0.gguf", "C:\\evil-Q4_0.gguf", ".hidden-Q4_0.gguf", "nul\x00-Q4_0.gguf",
        ("L" * 300) + "-Q4_0.gguf", "sub/" * 60 + "deep-Q4_0.gguf", "x-Q4_0.gguf:stream.gguf",
    ]  # fmt: skip
    for name in names:
        repo.add(HubFile(name, data=tiny_gguf()))
    return hub_server


def test_names_that_escape_or_cannot_be_written_are_refused(
    hostile_repo: HubServer, models_dir: Path, tally: Tally
) -> None:
    """Each name is refused with a clear message, or (a deep but harmless path) installed
    under its own base name inside the models folder: nothing lands anywhere else."""
    tiny = tiny_gguf()
    root = models_dir.parent.parent
    for name in list(hostile_repo.repos[HOSTILE].files):
        info = RemoteFile(name, len(tiny), hashlib.sha256(tiny).hexdigest())
        try:
            result = download_file(HOSTILE, info, models_dir, threading.Event())
        except ParleyError as exc:
            clear = "Refused the file name" in str(exc)
            tally.case(leaked=not clear, note=f"{name[:40]!r}: {exc}")
        else:
            inside = result is not None and result.path.parent == models_dir
            tally.case(leaked=not inside, note=f"accepted {name[:40]!r}")
    outside = [p for p in root.rglob("*") if p.is_file() and models_dir not in p.parents]
    assert outside == []
    assert [p.name for p in models_dir.glob("*.gguf")] == ["deep-Q4_0.gguf"]
    tally.check()


def test_non_utf8_names_are_refused(tally: Tally) -> None:
    for raw in (b"\xff\xfe-Q4_0.gguf", b"caf\xe9-Q4_0.gguf"):
        name = raw.decode("utf-8", errors="surrogateescape")
        try:
            local_name(name)
        except UnsafePathError:
            tally.case()
        else:
            tally.case(leaked=True, note=repr(name))
    tally.check()


def test_sizes_and_hashes_that_lie_are_caught(
    hub_server: HubServer, models_dir: Path, tally: Tally
) -> None:
    repo = hub_server.repo(HOSTILE)
    tiny = tiny_gguf()
    liars = {
        "BigLie-Q4_0.gguf": HubFile("BigLie-Q4_0.gguf", data=tiny, virtual_size=len(tiny) * 4,
                                    sha256=hashlib.sha256(tiny).hexdigest()),
        "HashLie-Q4_0.gguf": HubFile("HashLie-Q4_0.gguf", data=tiny, sha256="0" * 64),
        "Serves-Other-Q4_0.gguf": HubFile("Serves-Other-Q4_0.gguf", data=tiny,
                                          serve=tiny[:-1] + b"!"),
    }  # fmt: skip
    for f in liars.values():
        repo.add(f)
    for name, f in liars.items():
        info = RemoteFile(name, f.size, f.listed_sha256())
        try:
            download_file(HOSTILE, info, models_dir, threading.Event())
        except ParleyError as exc:
            tally.case(lost=(models_dir / name).exists(), note=str(exc)[:60])
        else:
            tally.case(lost=True, note=f"installed {name}")
    assert ModelCatalog(models_dir).list() == []
    tally.check()


def test_the_hub_redirecting_elsewhere_gets_no_token(
    hub_server: HubServer, models_dir: Path, tally: Tally, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The resolve URL redirects to a CDN on another origin: the HF token stays behind."""
    other = HubServer()
    other.repo(REPO).add(HubFile(STARTER_FILE, data=tiny_gguf()))
    with other:
        monkeypatch.setenv("HF_TOKEN", "hf_secret_token_for_the_hub_only")
        original = hub_server.httpd.RequestHandlerClass._resolve  # type: ignore[attr-defined]

        def redirect_away(handler: object, repo_id: str, rev: str, path: str) -> None:
            handler.send_response(302)  # type: ignore[attr-defined]
            handler.send_header("Location", other.url(repo_id, path, rev))  # type: ignore[attr-defined]
            handler.send_header("Content-Length", "0")  # type: ignore[attr-defined]
            handler.end_headers()  # type: ignore[attr-defined]

        hub_server.httpd.RequestHandlerClass._resolve = redirect_away  # type: ignore[attr-defined]
        try:
            tiny = tiny_gguf()
            info = RemoteFile(STARTER_FILE, len(tiny), hashlib.sha256(tiny).hexdigest())
            download_file(REPO, info, models_dir, threading.Event())
        finally:
            hub_server.httpd.RequestHandlerClass._resolve = original  # type: ignore[attr-defined]
        sent = [r["auth"] for r in other.requests]
        tally.case(leaked=any(sent), note=str(sent))
        assert sent and not any(sent)
        assert any(r["auth"] for r in hub_server.requests)  # the hub itself got it
    tally.check()


def test_a_model_split_across_hosts_installs_nothing_unsafe(
    hostile_repo: HubServer, models_dir: Path, tally: Tally
) -> None:
    model = hub.RemoteModel(
        HOSTILE, "evil", (RemoteFile("good-Q4_0.gguf", 10, None),
                          RemoteFile("../../evil-Q4_0.gguf", 10, None)), "Q4_0",
    )  # fmt: skip
    with pytest.raises(UnsafePathError):
        download_model(model, models_dir, threading.Event())
    tally.case(leaked=bool(list(models_dir.parent.rglob("*evil*"))))
    assert _gets(hostile_repo, "good-Q4_0.gguf") == []  # refused before any byte moved
    tally.check()
