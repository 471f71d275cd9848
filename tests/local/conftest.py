"""A local hub (HF_ENDPOINT) serving the starter model and broken variants of it."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

import pytest

from app.core.local.starter import STARTER
from tests.helpers.gguf_files import huge_gguf_header, split_gguf, tiny_gguf
from tests.helpers.hub_server import HubFile, HubServer

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

REPO = "bartowski/SmolLM2-135M-Instruct-GGUF"
STARTER_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
BROKEN = "parley-tests/Broken-GGUF"
HUGE = "mistralai-test/Mistral-Huge-GGUF"
GATED = "mistralai-test/Gated-Mistral-Small-3.2-GGUF"
SPLIT_FILES = ("Tiny-Split-Q8_0-00001-of-00002.gguf", "Tiny-Split-Q8_0-00002-of-00002.gguf")


@pytest.fixture(scope="session")
def starter_bytes(starter_path: Path) -> bytes:
    return starter_path.read_bytes()


@pytest.fixture(scope="session")
def variants(starter_bytes: bytes) -> dict[str, tuple[bytes, str]]:
    """Broken copies of the starter model, and the sha256 the hub lists for each (built once)."""
    corrupt = bytearray(starter_bytes)
    corrupt[len(corrupt) // 2] ^= 0xFF
    truncated = starter_bytes[: len(starter_bytes) * 3 // 5]
    return {
        "corrupt": (bytes(corrupt), STARTER.sha256),
        "truncated": (truncated, hashlib.sha256(truncated).hexdigest()),
    }


@pytest.fixture
def hub_server(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    starter_path: Path,
    variants: dict[str, tuple[bytes, str]],
) -> Iterator[HubServer]:
    server = HubServer()
    main = server.repo(REPO, downloads=5000, likes=40, license="apache-2.0",
                       last_modified="2025-03-01T00:00:00.000Z")  # fmt: skip
    main.add(HubFile(STARTER_FILE, source=starter_path, sha256=STARTER.sha256))
    main.add(HubFile("tiny/Tiny-Q8_0.gguf", data=tiny_gguf()))
    for name, data in zip(SPLIT_FILES, split_gguf(2), strict=True):
        main.add(HubFile(name, data=data))
    main.add(HubFile("README.md", data=b"# readme\n", lfs=False))

    broken = server.repo(BROKEN, downloads=3, likes=0, license="mit",
                         last_modified="2025-07-01T00:00:00.000Z")  # fmt: skip
    corrupt, listed = variants["corrupt"]
    broken.add(HubFile("Corrupt-Q4_1.gguf", source=starter_path, sha256=listed, serve=corrupt))
    truncated, truncated_sha = variants["truncated"]
    broken.add(HubFile("Truncated-Q4_1.gguf", data=truncated, sha256=truncated_sha))
    broken.add(HubFile("NotGGUF-Q4_1.gguf", data=b"<html><body>Not a model</body></html>\n" * 300))
    broken.add(HubFile("../escape-Q4_1.gguf", data=tiny_gguf()))

    header, size = huge_gguf_header()
    huge = server.repo(HUGE, downloads=900, likes=500, license="apache-2.0",
                       last_modified="2025-09-01T00:00:00.000Z")  # fmt: skip
    huge.add(HubFile("Mistral-Huge-Q4_K_M.gguf", data=header, virtual_size=size,
                     sha256=hashlib.sha256(b"not computed").hexdigest()))  # fmt: skip
    gated = server.repo(GATED, downloads=100, likes=9000, gated=True,
                        last_modified="2025-10-01T00:00:00.000Z")  # fmt: skip
    gated.add(HubFile("Mistral-Small-3.2-Q4_K_M.gguf", data=tiny_gguf()))

    monkeypatch.setenv("HF_ENDPOINT", server.endpoint)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf_home"))
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(var, raising=False)
    with server:
        yield server
