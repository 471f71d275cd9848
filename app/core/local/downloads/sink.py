"""Write and hash downloaded bytes on a second thread, so receiving never waits for them.

Both `file.write` and `hashlib` release the GIL for large buffers, so the
socket reads of the downloading thread overlap with the disk write and the
SHA-256 of the previous chunks (measured here: write 0.27 s + hash 0.23 s +
recv 0.14 s per 390 MB when done in one thread).
"""

from __future__ import annotations

import queue
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from _hashlib import HASH
    from pathlib import Path
    from types import TracebackType

# httpx reads 64 KiB at a time; handing the writer 1 MiB batches makes 16x fewer
# thread hand-offs and disk writes (measured: 0.8 -> 1.2 GB/s over loopback).
_BATCH_BYTES = 1 << 20
_QUEUE_BATCHES = 8


class Sink:
    """`with Sink(path, hasher, offset) as sink: sink.put(chunk)`; `sink.written` after exit.

    A chunk counts as written only once it is both on disk and in the hash, so
    after a failure the file can be truncated to `written` and resumed.
    """

    def __init__(self, path: Path, hasher: HASH, offset: int) -> None:
        self.path = path
        self.hasher = hasher
        self.written = offset
        self.error: OSError | None = None
        self._queue: queue.Queue[bytes | None] = queue.Queue(_QUEUE_BATCHES)
        self._pending: list[bytes] = []
        self._pending_bytes = 0
        self._thread = threading.Thread(target=self._run, name="parley-download-sink")

    def __enter__(self) -> Sink:
        self._thread.start()
        return self

    def put(self, chunk: bytes) -> None:
        if self.error is not None:
            raise self.error
        self._pending.append(chunk)
        self._pending_bytes += len(chunk)
        if self._pending_bytes >= _BATCH_BYTES:
            self._hand_over()

    def _hand_over(self) -> None:
        if self._pending:
            self._queue.put(b"".join(self._pending))
            self._pending.clear()
            self._pending_bytes = 0

    def _run(self) -> None:
        try:
            with self.path.open("ab") as out:
                while (chunk := self._queue.get()) is not None:
                    out.write(chunk)
                    out.flush()  # on disk (page cache) before it counts
                    self.hasher.update(chunk)
                    self.written += len(chunk)
        except OSError as exc:
            self.error = exc
            while self._queue.get() is not None:  # unblock the producer until it stops
                pass

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._hand_over()  # what arrived is kept, whatever ended the transfer
        self._queue.put(None)
        self._thread.join()
        if self.error is not None and exc is None:
            raise self.error
