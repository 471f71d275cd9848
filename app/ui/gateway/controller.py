"""Starts and stops the in-app gateway off the GUI thread and relays what it serves.

A watchdog notices a server thread that died (it should not: issue 22 closed the ways
it was seen to) and starts the gateway again, saying so, at most `MAX_RESTARTS` times
in `RESTART_WINDOW_S`; then it stays off and says why.

Signals:
    state_changed(running, address): after a start or a stop
    failed(message): a start that could not happen (port taken, no keyring, ...)
    restarted(message): the server thread had stopped on its own and was started again
    request_served(served): one finished request (a `Served`), on the GUI thread
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, QTimer, Signal

from app.workers import FunctionJob

if TYPE_CHECKING:
    from app.core.context import AppContext
    from app.core.gateway.server import GatewayServer
    from app.core.gateway.service import Served
    from app.workers import WorkerPool
    from app.workers.jobs import ProgressFn

logger = logging.getLogger(__name__)

ENABLED = "gateway.enabled"  # bool: start with the window
WATCH_INTERVAL_MS = 2000
MAX_RESTARTS = 3
RESTART_WINDOW_S = 600.0
HOST = "gateway.host"
PORT = "gateway.port"


class GatewayController(QObject):
    state_changed = Signal(bool, str)
    failed = Signal(str)
    restarted = Signal(str)
    request_served = Signal(object)

    def __init__(self, ctx: AppContext, pool: WorkerPool, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.pool = pool
        self._server: GatewayServer | None = None
        self._lock = threading.Lock()
        self.busy = False
        self._restarts: list[float] = []
        self._watchdog = QTimer(self)
        self._watchdog.setInterval(WATCH_INTERVAL_MS)
        self._watchdog.timeout.connect(self._watch)

    # settings ---------------------------------------------------------------
    @property
    def host(self) -> str:
        from app.core.gateway.server import DEFAULT_HOST

        return str(self.ctx.settings.get(HOST, DEFAULT_HOST))

    @property
    def port(self) -> int:
        from app.core.gateway.server import DEFAULT_PORT

        return int(self.ctx.settings.get(PORT, DEFAULT_PORT))

    def set_address(self, host: str, port: int) -> None:
        self.ctx.settings.set(HOST, host.strip() or "127.0.0.1")
        self.ctx.settings.set(PORT, int(port))

    @property
    def running(self) -> bool:
        return self._server is not None and self._server.running

    @property
    def address(self) -> str:
        return self._server.address if self._server is not None else ""

    def served_count(self) -> int:
        return self.ctx.gateway.served.count

    def recent(self) -> list[Served]:
        return self.ctx.gateway.served.recent()

    # switch -------------------------------------------------------------------
    def start_if_enabled(self) -> None:
        if self.ctx.settings.get(ENABLED, False):
            self.set_running(True)

    def set_running(self, on: bool) -> None:
        if self.busy or on == self.running:
            self.state_changed.emit(self.running, self.address)
            return
        self.busy = True
        self.ctx.settings.set(ENABLED, on)
        job = FunctionJob(self._start if on else self._stop)
        job.finished.connect(self._on_done)
        job.failed.connect(self._on_failed)
        self.pool.submit(job, lane="io")

    def _start(self, _cancel: threading.Event, _progress: ProgressFn) -> str:
        from app.core.gateway.server import GatewayServer
        from app.core.providers._config import is_loopback_host

        ctx = self.ctx
        server = GatewayServer(ctx.gateway, ctx.access_tokens, self.host, self.port)
        if is_loopback_host(server.host) and not ctx.access_tokens.any_active():
            ctx.access_tokens.default()  # created on first use; a LAN bind needs one made first
        server.start()
        ctx.gateway.served.listeners.append(self.request_served.emit)
        with self._lock:
            self._server = server
        return server.address

    def _stop(self, _cancel: threading.Event, _progress: ProgressFn) -> str:
        with self._lock:
            server, self._server = self._server, None
        if server is not None:
            server.stop()
            listeners = self.ctx.gateway.served.listeners
            if self.request_served.emit in listeners:
                listeners.remove(self.request_served.emit)
        return ""

    def _on_done(self, _job_id: int, _address: Any) -> None:
        self.busy = False
        if self.running:
            self._watchdog.start()
        else:
            self._watchdog.stop()
        self.state_changed.emit(self.running, self.address)

    def _watch(self) -> None:
        """The server was started and its thread is gone: start it again, and say so."""
        with self._lock:
            server = self._server
        if self.busy or server is None or server.running:
            return
        logger.error("the gateway's server thread stopped on its own (%s)", server.address)
        with self._lock:
            self._server = None
        listeners = self.ctx.gateway.served.listeners
        if self.request_served.emit in listeners:
            listeners.remove(self.request_served.emit)
        now = time.monotonic()
        self._restarts = [t for t in self._restarts if now - t < RESTART_WINDOW_S]
        if len(self._restarts) >= MAX_RESTARTS:
            self._watchdog.stop()
            self.ctx.settings.set(ENABLED, False)
            self.failed.emit(f"The gateway stopped {MAX_RESTARTS + 1} times in "
                             f"{RESTART_WINDOW_S / 60:.0f} minutes, so Parley left it off. "
                             "Parley's log says why; switch it on again to retry.")  # fmt: skip
            self.state_changed.emit(False, "")
            return
        self._restarts.append(now)
        self.restarted.emit("The gateway stopped unexpectedly; Parley started it again. "
                            "Requests that were running then were cut off.")  # fmt: skip
        self.set_running(True)

    def _on_failed(self, _job_id: int, message: str) -> None:
        self.busy = False
        self.ctx.settings.set(ENABLED, False)
        self.failed.emit(message)
        self.state_changed.emit(self.running, self.address)

    def shutdown(self) -> None:
        """At window close: stop serving (requests in flight end as stopped)."""
        self._watchdog.stop()
        with self._lock:
            server, self._server = self._server, None
        if server is not None:
            server.stop()
