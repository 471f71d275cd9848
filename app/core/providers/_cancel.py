"""Stop within 200 ms, whatever the provider does.

The stream loop checks `cancel` between chunks, but a provider that goes
silent leaves it blocked in a socket read until the read timeout (60 s by
default). While a response streams, a watcher thread waits on `cancel` and,
when it is set, shuts the response's socket down, which wakes the blocked
read at once; the loop then sees `cancel` and returns `stopped` with the
partial answer.

Only an HTTP/1.1 socket is shut down (it carries this one response). An
HTTP/2 connection may carry other answers too, so there the response is only
closed, and the read ends when the connection next hears anything.
"""

from __future__ import annotations

import contextlib
import logging
import math
import socket
import threading
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterator

    import httpx

logger = logging.getLogger(__name__)

POLL_S = 0.05  # how often the watcher looks whether the stream has ended on its own


class Watch:
    """The watcher of one response; `end_by` also ends it at a time, Stop or not."""

    __slots__ = ("deadline",)

    def __init__(self) -> None:
        self.deadline = math.inf  # time.monotonic() seconds

    def end_by(self, seconds: float) -> None:
        """End the response if it is still being read `seconds` from now (± POLL_S)."""
        self.deadline = time.monotonic() + seconds


@contextlib.contextmanager
def closed_on_cancel(cancel: threading.Event, response: httpx.Response) -> Iterator[Watch]:
    """While the block runs, setting `cancel` ends `response` within ~POLL_S."""
    done = threading.Event()
    lock = threading.Lock()  # `abort` and the block's end never interleave
    handle = Watch()

    def watch() -> None:
        while not done.is_set():
            if cancel.wait(POLL_S) or time.monotonic() > handle.deadline:
                with lock:
                    if not done.is_set():
                        abort(response)
                return

    watcher = threading.Thread(target=watch, name="stream-cancel", daemon=True)
    watcher.start()
    try:
        yield handle
    finally:
        # No join: it would wait out the watcher's poll (up to POLL_S) at the end of
        # every answer. Once `done` is set under the lock, the watcher can't abort.
        with lock:
            done.set()


def abort(response: httpx.Response) -> None:
    """Wake a thread blocked reading `response`: shut its socket down (HTTP/1.1)."""
    stream = response.extensions.get("network_stream")
    sock = stream.get_extra_info("socket") if stream is not None else None
    if response.http_version == "HTTP/1.1" and isinstance(sock, socket.socket):
        with contextlib.suppress(OSError):  # already closed by the other side
            sock.shutdown(socket.SHUT_RDWR)
        return
    with contextlib.suppress(Exception):  # best effort from another thread
        response.close()
