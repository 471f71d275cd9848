"""A gateway on 127.0.0.1 over a fresh data dir, with the provider tests' keyring and servers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest

from app.core.gateway.server import GatewayServer
from tests.helpers.llama_server import free_port
from tests.providers.conftest import (  # noqa: F401 - fixtures shared with the provider tests
    fault,
    isolated_keyring,
    llama,
    secret_service,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

    from app.core.context import AppContext


@dataclass(frozen=True)
class Running:
    server: GatewayServer
    token: str

    @property
    def base_url(self) -> str:
        return self.server.address

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@pytest.fixture
def gateway(ctx: AppContext) -> Iterator[Running]:
    """`parley serve`'s server, in this process, with the default token."""
    _token, secret = ctx.access_tokens.default()
    server = GatewayServer(ctx.gateway, ctx.access_tokens, "127.0.0.1", free_port())
    server.start()
    yield Running(server, secret)
    server.stop()
