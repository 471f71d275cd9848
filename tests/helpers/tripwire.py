"""A FIFO that tells whether anything opened it for reading, without ever hanging the reader.

Opening a FIFO for reading blocks until a writer comes. A watcher *process*
(a thread would wait on the GIL that the blocked Qt call still holds) keeps
trying to open it for writing without blocking (ENXIO while nobody reads);
the moment a reader arrives the open succeeds: the wire is tripped (a marker
file appears), a few bytes are written and the FIFO is closed, so the reader
gets them and an end of file instead of waiting forever.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path
    from types import TracebackType

_WATCH = """
import errno, os, sys, time
fifo, marker = sys.argv[1], sys.argv[2]
while True:
    try:
        fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
    except OSError as exc:
        if exc.errno != errno.ENXIO:
            raise
        time.sleep(0.005)
        continue
    open(marker, "a").close()
    try:
        os.write(fd, b"tripwire")
    finally:
        os.close(fd)
    time.sleep(0.5)  # long enough for the reader to see the end of file
"""


class Tripwire:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.marker = path.with_name(path.name + ".tripped")
        os.mkfifo(path)
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return self.path.as_uri()

    def is_tripped(self) -> bool:
        return self.marker.exists()

    def __enter__(self) -> Tripwire:
        self._proc = subprocess.Popen([sys.executable, "-c", _WATCH, str(self.path),
                                       str(self.marker)])  # fmt: skip
        time.sleep(0.1)  # the watcher is up before anything renders
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait()
