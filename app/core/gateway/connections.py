"""What a local process can do to `parley serve` over TCP, bounded.

uvicorn's h11 protocol, with three limits it lacks (measured on uvicorn 0.55):

- a connection must send its request head within `HEAD_TIMEOUT_S` of connecting
  (or of the previous response's end): a slow-loris client that sends one header
  byte every few seconds, or one that connects and sends nothing, is closed;
- at most `max_connections` connections at once, well under the process's
  descriptor limit: the next is closed at once, so a flood of idle connections can't
  exhaust descriptors (that made `parley serve` exit, and the window's gateway thread
  die with ~720 descriptors leaked);
- nothing here touches logging: the server runs with `log_config=None`, so uvicorn
  never replaces (and closes) Parley's own log handlers.
"""

from __future__ import annotations

import ipaddress
import logging
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import asyncio

    from uvicorn.protocols.http.h11_impl import H11Protocol

logger = logging.getLogger(__name__)

HEAD_TIMEOUT_S = 10.0
MAX_CONNECTIONS = 512
DESCRIPTORS_KEPT_FREE = 128  # for the database, the log, model files and upstream sockets


def connection_cap() -> int:
    """At most `MAX_CONNECTIONS`, and never more than the descriptors the process may open
    less those kept free (after raising the soft limit to the hard one where allowed)."""
    try:
        import resource
    except ImportError:  # Windows: sockets are not bounded by a descriptor table
        return MAX_CONNECTIONS
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 65536)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    return max(16, min(MAX_CONNECTIONS, soft - DESCRIPTORS_KEPT_FREE))


def guarded_protocol(max_connections: int, head_timeout_s: float = HEAD_TIMEOUT_S
                     ) -> type[H11Protocol]:  # fmt: skip
    """The h11 protocol class uvicorn builds for each connection, with the limits above."""
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class GuardedH11Protocol(H11Protocol):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._head_timer: asyncio.TimerHandle | None = None
            self._refused = False

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            if len(self.connections) >= max_connections:
                self._refused = True
                transport.abort()
                return
            super().connection_made(transport)
            self._arm()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            if not self._refused:
                super().connection_lost(exc)

        def data_received(self, data: bytes) -> None:
            if self._refused:
                return
            super().data_received(data)
            if self.cycle is not None and not self.cycle.response_complete:
                self._disarm()  # the head arrived: the request is being served

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing():
                self._arm()  # the next request's head has the same deadline

        def _arm(self) -> None:
            self._disarm()
            self._head_timer = self.loop.call_later(head_timeout_s, self._too_slow)

        def _disarm(self) -> None:
            if self._head_timer is not None:
                self._head_timer.cancel()
                self._head_timer = None

        def _too_slow(self) -> None:
            self._head_timer = None
            if self.cycle is None or self.cycle.response_complete:
                self.transport.close()

    return GuardedH11Protocol


LOCAL_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


def host_allowed(host_header: str | None, allowed: frozenset[str]) -> bool:
    """Whether a request's `Host` may be served: an IP address, a localhost name, or a
    name the user allowed. A web page whose domain re-resolves to 127.0.0.1 (DNS
    rebinding) sends its own domain as `Host`, so it is refused, as Ollama and Jupyter do.
    """
    if not host_header:
        return True  # HTTP/1.0 without Host: no browser sends that
    host = host_header.strip().lower()
    if host.startswith("["):
        host = host[1:].split("]", 1)[0]
    elif host.count(":") == 1:
        host = host.rsplit(":", 1)[0]
    host = host.rstrip(".")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return host in LOCAL_NAMES or host in allowed or host.endswith(".localhost")
    return True
