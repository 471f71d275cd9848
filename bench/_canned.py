"""A canned OpenAI-style SSE upstream on 127.0.0.1: the same answer, as fast as a socket allows.

With `interval_s` = 0 the whole stream is one write, so whatever sits between
a client and this server is all that costs time; with an interval, chunks come
at a provider's pace (e.g. 0.02 s = 50 tokens/s) for concurrency measurements,
on a fixed schedule from the first, as a remote provider's would.

`canned_upstream(chunks)` runs it in a child process (`python bench/_canned.py CHUNKS`
prints its port), for benches that judge their own process's CPU time: the server's
work must not count as the client's.
"""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import sys
import threading
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterator

MODEL = "canned-model"


def sse_body(chunks: int, usage: bool = True) -> list[bytes]:
    """The events of one answer: `chunks` one-word deltas, a finish, usage, [DONE]."""
    head = {"id": "chatcmpl-canned", "object": "chat.completion.chunk", "created": 1,
            "model": MODEL}  # fmt: skip
    events = [
        b"data: " + json.dumps(head | {"choices": [{"index": 0, "delta": {"content": f" w{i}"},
                                                    "finish_reason": None}]}).encode() + b"\n\n"
        for i in range(chunks)
    ]  # fmt: skip
    events.append(b"data: " + json.dumps(head | {"choices": [{"index": 0, "delta": {},
                                                              "finish_reason": "stop"}]}).encode()
                  + b"\n\n")  # fmt: skip
    if usage:
        events.append(b"data: " + json.dumps(head | {"choices": [], "usage": {
            "prompt_tokens": 12, "completion_tokens": chunks,
            "total_tokens": 12 + chunks}}).encode() + b"\n\n")  # fmt: skip
    events.append(b"data: [DONE]\n\n")
    return events


class CannedUpstream:
    def __init__(self, chunks: int, interval_s: float = 0.0, first_delay_s: float = 0.0) -> None:
        self.events = sse_body(chunks)
        self.interval_s = interval_s
        self.first_delay_s = first_delay_s
        self._sock = socket.socket()
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(64)
        self.requests = 0
        self._stop = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._sock.getsockname()[1]}/v1"

    def close(self) -> None:
        self._stop.set()
        self._sock.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        buf = b""
        with conn:
            while True:
                while b"\r\n\r\n" not in buf:
                    data = conn.recv(65536)
                    if not data:
                        return
                    buf += data
                head, _, buf = buf.partition(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                while len(buf) < length:
                    buf += conn.recv(65536)
                buf = buf[length:]
                self.requests += 1
                self._answer(conn, head.split(b" ")[1])

    def _answer(self, conn: socket.socket, path: bytes) -> None:
        if path.endswith(b"/models"):
            body = json.dumps({"object": "list", "data": [{"id": MODEL}]}).encode()
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                         b"Content-Length: %d\r\n\r\n%s" % (len(body), body))  # fmt: skip
            return
        if self.first_delay_s:
            time.sleep(self.first_delay_s)  # a provider's time to first token
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                     b"Transfer-Encoding: chunked\r\n\r\n")  # fmt: skip
        if not self.interval_s:
            whole = b"".join(self.events)
            conn.sendall(b"%x\r\n%s\r\n0\r\n\r\n" % (len(whole), whole))
            return
        start = time.monotonic()
        for i, event in enumerate(self.events, 1):
            conn.sendall(b"%x\r\n%s\r\n" % (len(event), event))
            # A provider's pace, on a schedule: its tokens don't come later because the
            # machine of the clients is busy, so scheduling delays must not add up here.
            time.sleep(max(0.0, start + i * self.interval_s - time.monotonic()))
        conn.sendall(b"0\r\n\r\n")


@contextlib.contextmanager
def canned_upstream(chunks: int) -> Iterator[str]:
    """A zero-latency `CannedUpstream` in a child process; yields its base URL (…/v1)."""
    proc = subprocess.Popen([sys.executable, __file__, str(chunks)], stdout=subprocess.PIPE,
                            text=True)  # fmt: skip
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline())
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


if __name__ == "__main__":
    upstream = CannedUpstream(int(sys.argv[1]))
    print(upstream.base_url.split(":")[-1].removesuffix("/v1"), flush=True)
    threading.Event().wait()  # until the parent terminates us
