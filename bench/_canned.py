"""A zero-latency canned OpenAI-compatible SSE upstream, run as its own process.

`python bench/_canned.py CHUNKS` listens on 127.0.0.1 (port printed on the first line of
stdout) and answers every POST to /v1/chat/completions with CHUNKS content chunks, a
finish chunk with usage and `[DONE]`, all encoded once at start-up and written at once:
what the client does is all that costs time. Run in a separate process so its CPU
time never counts as the client's.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterator


def _body(chunks: int) -> bytes:
    def event(delta: dict[str, str], finish: str | None = None, usage: bool = False) -> str:
        obj: dict[str, object] = {
            "id": "chatcmpl-canned", "object": "chat.completion.chunk", "model": "canned",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }  # fmt: skip
        if usage:
            obj["usage"] = {"prompt_tokens": 32, "completion_tokens": chunks,
                            "total_tokens": 32 + chunks}  # fmt: skip
        return f"data: {json.dumps(obj)}\n\n"

    events = [event({"role": "assistant", "content": ""})]
    events += [event({"content": f" word{i}"}) for i in range(chunks)]
    events += [event({}, "stop", usage=True), "data: [DONE]\n\n"]
    return "".join(events).encode()


def serve(chunks: int) -> None:
    body = _body(chunks)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(server.server_address[1], flush=True)
    server.serve_forever()


@contextlib.contextmanager
def canned_upstream(chunks: int) -> Iterator[str]:
    """The canned server in a child process; yields its base URL (…/v1)."""
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
    serve(int(sys.argv[1]))
