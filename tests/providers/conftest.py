"""Fixtures for provider tests: an isolated keyring, real servers on 127.0.0.1."""

from __future__ import annotations

import gc
import logging
import os
import threading
import warnings
from typing import TYPE_CHECKING

import keyring
import pytest
from keyring.backend import KeyringBackend

from tests.helpers.fault_server import FaultServer
from tests.helpers.llama_server import LlamaServer, llama_server
from tests.providers.support import KEY

if TYPE_CHECKING:
    from collections.abc import Iterator

    from app.core.context import AppContext


class MemoryKeyring(KeyringBackend):
    """A file-less keyring for machines without a Secret Service."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.store: dict[tuple[str, str], str] = {}
        self.lock = threading.Lock()

    def get_password(self, service: str, username: str) -> str | None:
        with self.lock:
            return self.store.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        with self.lock:
            self.store[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        from keyring.errors import PasswordDeleteError

        with self.lock:
            if self.store.pop((service, username), None) is None:
                raise PasswordDeleteError("not found")


def _probe_secret_service() -> KeyringBackend | None:
    """The private Secret Service, if it can store a key without prompting anyone."""
    from keyring.backends import SecretService
    from keyring.errors import KeyringError

    backend = SecretService.Keyring()
    with warnings.catch_warnings():
        # keyring leaks its D-Bus socket when the collection can't be opened.
        warnings.simplefilter("ignore", ResourceWarning)
        try:
            backend.set_password("parley-test-probe", "probe", "x")
            backend.delete_password("parley-test-probe", "probe")
        except KeyringError:
            return None
        finally:
            gc.collect()
    return backend


@pytest.fixture(scope="session")
def secret_service() -> KeyringBackend | None:
    """tools/run-tests' Secret Service when usable (PARLEY_TEST_SECRET_SERVICE=1)."""
    if not os.environ.get("PARLEY_TEST_SECRET_SERVICE"):
        return None
    return _probe_secret_service()


@pytest.fixture(autouse=True)
def isolated_keyring(secret_service: KeyringBackend | None) -> Iterator[KeyringBackend]:
    """The private Secret Service of tools/run-tests, else an in-memory keyring.

    Never the developer's own: tools/run-tests starts its own D-Bus session
    with keyrings in a temporary folder.
    """
    previous = keyring.get_keyring()
    backend = secret_service or MemoryKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


@pytest.fixture(scope="session")
def llama() -> Iterator[LlamaServer]:
    from tests.helpers.starter import starter_model

    with llama_server(starter_model(), api_key=KEY) as server:
        yield server


@pytest.fixture
def fault() -> Iterator[FaultServer]:
    server = FaultServer()
    yield server
    server.close()


@pytest.fixture
def cloud_ctx(ctx: AppContext) -> AppContext:
    return ctx


@pytest.fixture
def cli_logging() -> Iterator[None]:
    """cli.main adds a file handler to the root logger; take it off afterwards."""
    root = logging.getLogger()
    before = list(root.handlers)
    level = root.level
    yield None
    for h in root.handlers[:]:
        if h not in before:
            root.removeHandler(h)
            h.close()
    root.setLevel(level)
