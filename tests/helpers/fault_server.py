"""A small fault-injecting OpenAI-compatible HTTP server on 127.0.0.1.

Each POST to `/v1/chat/completions` takes the next scripted `Reply` (or a
normal short answer when the script is empty): a status with headers and a
body, or an SSE stream of steps that can pause, hang until the server stops,
or drop the connection mid-answer. Every request is recorded so tests can
check retries and which headers (keys) were sent.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterator


@dataclass(frozen=True)
class Step:
    kind: str  # "bytes" | "pause" | "hang" | "drop"
    data: bytes = b""
    seconds: float = 0.0


def raw(data: bytes | str) -> Step:
    return Step("bytes", data.encode() if isinstance(data, str) else data)


def event(obj: Any) -> Step:
    """One `data:` event with a JSON payload (or a literal string payload)."""
    payload = obj if isinstance(obj, str) else json.dumps(obj)
    return raw(f"data: {payload}\n\n")


def delta(text: str, model: str = "fault-model", usage: dict[str, int] | None = None,
          finish: str | None = None) -> Step:  # fmt: skip
    chunk: dict[str, Any] = {
        "id": "chatcmpl-fault-1",
        "object": "chat.completion.chunk",
        "model": model,
        "choices": [{"index": 0, "delta": {"content": text} if text else {},
                     "finish_reason": finish}],
    }  # fmt: skip
    if usage is not None:
        chunk["usage"] = usage
    return event(chunk)


DONE = raw("data: [DONE]\n\n")
HANG = Step("hang")
DROP = Step("drop")


def pause(seconds: float) -> Step:
    return Step("pause", seconds=seconds)


def answer(*texts: str, usage: dict[str, int] | None = None, model: str = "fault-model"
           ) -> list[Step]:  # fmt: skip
    steps = [delta(t, model) for t in texts]
    steps.append(delta("", model, usage=usage, finish="stop"))
    steps.append(DONE)
    return steps


@dataclass
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None  # a whole body instead of a stream
    steps: list[Step] = field(default_factory=list)

    @classmethod
    def error(cls, status: int, message: str = "", headers: dict[str, str] | None = None,
              body: Any = None) -> Reply:  # fmt: skip
        payload = body if body is not None else {"error": {"message": message or "failed"}}
        return cls(status, {"Content-Type": "application/json", **(headers or {})},
                   json.dumps(payload).encode())  # fmt: skip

    @classmethod
    def stream(cls, *steps: Step | list[Step]) -> Reply:
        flat: list[Step] = []
        for s in steps:
            flat.extend(s if isinstance(s, list) else [s])
        return cls(200, {"Content-Type": "text/event-stream"}, None, flat)


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    client_port: int = 0  # the client's end of the connection: same port, same connection


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients hanging up early is what several faults are about


class FaultServer:
    def __init__(self) -> None:
        self.replies: deque[Reply] = deque()
        self.requests: list[Recorded] = []
        self.models: dict[str, Any] = {"object": "list", "data": [{"id": "fault-model"}]}
        self.stopping = threading.Event()
        self._server = _Server(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,),
                                        name="fault-server",
                                        daemon=True)  # fmt: skip
        self._thread.start()

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def script(self, *replies: Reply) -> None:
        self.replies.extend(replies)

    def reply_for(self, path: str, body: bytes) -> Reply:
        """The next scripted reply, or a normal short answer (strict servers check first)."""
        if self.replies:
            return self.replies.popleft()
        return Reply.stream(answer("Hello", " from", " the fault server."))

    def chat_requests(self) -> list[Recorded]:
        return [r for r in self.requests if r.path.endswith("/chat/completions")]

    def close(self) -> None:
        self.stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass  # keep test output clean

            def do_GET(self) -> None:
                self._record(b"")
                if self.path.rstrip("/").endswith("/models"):
                    self._send(Reply(200, {"Content-Type": "application/json"},
                                     json.dumps(server.models).encode()))  # fmt: skip
                else:
                    self._send(Reply.error(404, "no such path"))

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                self._record(body)
                self._send(server.reply_for(self.path, body))

            def _record(self, body: bytes) -> None:
                server.requests.append(
                    # Header names title-cased: clients differ in case.
                    Recorded(
                        self.command,
                        self.path,
                        {k.title(): v for k, v in self.headers.items()},
                        body,
                        self.client_address[1],
                    )
                )

            def _send(self, reply: Reply) -> None:
                self.send_response(reply.status)
                for k, v in reply.headers.items():
                    self.send_header(k, v)
                if reply.body is not None:
                    self.send_header("Content-Length", str(len(reply.body)))
                    self.end_headers()
                    self.wfile.write(reply.body)
                    return
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                for step in reply.steps:
                    match step.kind:
                        case "bytes":
                            self.wfile.write(b"%x\r\n%s\r\n" % (len(step.data), step.data))
                            self.wfile.flush()
                        case "pause":
                            server.stopping.wait(step.seconds)
                        case "hang":
                            server.stopping.wait()
                            return
                        case "drop":
                            self.wfile.flush()
                            self.connection.shutdown(socket.SHUT_RDWR)
                            self.close_connection = True
                            return
                self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()

        return Handler


@contextlib.contextmanager
def unresponsive_port() -> Iterator[int]:
    """A port whose listen backlog is full, so a new connection attempt times out."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    try:
        for _ in range(8):
            s = socket.socket()
            s.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                s.connect(("127.0.0.1", port))
            fillers.append(s)
        yield port
    finally:
        for s in fillers:
            s.close()
        listener.close()
