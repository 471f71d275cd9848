"""`python -m llama_cpp.server` on 127.0.0.1, serving the starter model: a real
OpenAI-compatible server nobody here wrote. It sends no usage when streaming."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING

import httpx

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

START_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class LlamaServer:
    port: int
    api_key: str | None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def llama_server(model: Path, api_key: str | None = None, n_ctx: int = 1024
                 ) -> Iterator[LlamaServer]:  # fmt: skip
    port = free_port()
    cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(model),
           "--host", "127.0.0.1", "--port", str(port), "--n_ctx", str(n_ctx),
           "--model_alias", "smollm2", "--verbose", "False"]  # fmt: skip
    if api_key:
        cmd += ["--api_key", api_key]
    # A file, not a pipe: an unread pipe fills up and blocks the server.
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        try:
            _wait_ready(proc, port, api_key, log)
            yield LlamaServer(port, api_key)
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


def _wait_ready(
    proc: subprocess.Popen[bytes], port: int, api_key: str | None, log: IO[bytes]
) -> None:
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            log.seek(0)
            err = log.read().decode(errors="replace")[-2000:]
            raise RuntimeError(f"llama_cpp.server exited with {proc.returncode}: {err}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/v1/models", headers=headers,
                         timeout=1.0).status_code == 200:  # fmt: skip
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)  # polling a condition: the server's first answer
    raise RuntimeError("llama_cpp.server did not start in time")
