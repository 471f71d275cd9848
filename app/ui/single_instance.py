"""One window per data folder: a second launch brings the running window forward.

The first window holds an exclusive lock on `window.lock` in the data folder
(released by the OS however the process ends) and listens on a local socket
(`QLocalServer`: a Unix socket, a named pipe on Windows) named after the
user and the folder. A later launch that can't take the lock asks that socket
to bring the window forward and exits: two windows would load two copies of
the model and race each other's answers. The CLI takes no lock: it shares the
database safely (SQLite WAL) and checks a running answer's writer before
touching it.
"""

from __future__ import annotations

import getpass
import hashlib
import logging
import os
import time
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal
from PySide6.QtNetwork import QLocalServer, QLocalSocket

from app.core.foundation.file_lock import FileLock

if TYPE_CHECKING:
    from pathlib import Path

logger = logging.getLogger(__name__)

LOCK_NAME = "window.lock"
ACTIVATE = b"activate\n"
ANSWER = b"ok\n"
CONNECT_MS = 1000
ANSWER_MS = 3000
STARTING_UP_S = 10.0  # the first window may still be starting: keep asking this long


def socket_name(root: Path) -> str:
    """The local socket of the window that owns `root` (per user: other users' don't clash)."""
    key = f"{getpass.getuser()}:{os.path.realpath(root)}"
    return "parley-" + hashlib.sha256(key.encode()).hexdigest()[:20]


class InstanceGuard(QObject):
    """Claims a data folder for this window, or finds the window that has it.

    Signals:
        activation_requested(): a second launch asked this window to come forward
    """

    activation_requested = Signal()

    def __init__(self, root: Path, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.root = root
        self.name = socket_name(root)
        self._lock = FileLock(root / LOCK_NAME)
        self._server: QLocalServer | None = None

    def claim(self) -> bool:
        """True when this process is the folder's window (or the folder can't be locked:
        opening it will say why); False when another window has it."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            locked = self._lock.acquire()
        except OSError:
            return True
        if not locked:
            return False
        QLocalServer.removeServer(self.name)  # a socket file left by a crashed window
        server = QLocalServer(self)
        server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        if not server.listen(self.name):
            logger.warning("single instance: can't listen on %s: %s", self.name,
                           server.errorString())  # fmt: skip
        server.newConnection.connect(self._on_connection)
        self._server = server
        return True

    def release(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        self._lock.release()

    def _on_connection(self) -> None:
        assert self._server is not None
        while (conn := self._server.nextPendingConnection()) is not None:
            conn.readyRead.connect(lambda c=conn: self._on_request(c))
            conn.disconnected.connect(conn.deleteLater)

    def _on_request(self, conn: QLocalSocket) -> None:
        if bytes(conn.readAll().data()).startswith(ACTIVATE.strip()):
            logger.info("a second launch asked this window to come forward")
            conn.write(ANSWER)
            conn.flush()
            self.activation_requested.emit()
        conn.disconnectFromServer()


def bring_forward(name: str) -> bool:
    """Ask the window listening on `name` to come forward; True once it answered."""
    deadline = time.monotonic() + STARTING_UP_S
    while True:
        sock = QLocalSocket()
        sock.connectToServer(name)
        if sock.waitForConnected(CONNECT_MS):
            sock.write(ACTIVATE)
            sock.waitForBytesWritten(CONNECT_MS)
            answered = sock.waitForReadyRead(ANSWER_MS) and bytes(sock.readAll().data()) == ANSWER
            sock.disconnectFromServer()
            if answered:
                return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
