"""Every test runs against a temporary data dir: never the user's data or keyring."""

from __future__ import annotations

import os
import threading

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from typing import TYPE_CHECKING

import pytest

from app.core.context import AppContext
from tests.helpers.mistral_gguf import TinyMistral
from tests.helpers.starter import install_into, starter_model

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path


@pytest.fixture(autouse=True)
def isolated_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """PARLEY_DATA_DIR and the XDG dirs point into tmp_path for every test."""
    data = tmp_path / "data"
    monkeypatch.setenv("PARLEY_DATA_DIR", str(data))
    monkeypatch.setenv("PARLEY_CACHE_DIR", str(tmp_path / "cache"))
    for var in ("XDG_CONFIG_HOME", "XDG_CACHE_HOME"):
        monkeypatch.setenv(var, str(tmp_path / var.lower()))
    return data


@pytest.fixture(scope="session")
def starter_path() -> Path:
    return starter_model()


@pytest.fixture(scope="session")
def tiny_mistral(tmp_path_factory: pytest.TempPathFactory) -> TinyMistral:
    """Tiny Mistral Small-style GGUFs with the real Tekken vocabulary (built on first use)."""
    return TinyMistral(tmp_path_factory.mktemp("tiny-mistral"))


@pytest.fixture
def data_dir(isolated_dirs: Path, starter_path: Path) -> Path:
    """A fresh data dir with the starter model installed."""
    install_into(isolated_dirs / "models", starter_path)
    return isolated_dirs


@pytest.fixture
def ctx(data_dir: Path) -> Iterator[AppContext]:
    context = AppContext.open(data_dir)
    yield context
    context.close()


@pytest.fixture(autouse=True)
def no_dangling_threads() -> Iterator[None]:
    """Fail a test that leaves Python threads running (QThreads are checked by the pool)."""
    before = set(threading.enumerate())
    yield
    leftover = [
        t for t in threading.enumerate()
        if t not in before and t.is_alive() and not t.daemon
    ]  # fmt: skip
    for t in leftover:
        t.join(timeout=5)
    still = [t.name for t in leftover if t.is_alive()]
    assert not still, f"test left threads running: {still}"
