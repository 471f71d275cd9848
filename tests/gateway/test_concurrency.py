"""Two clients at once, a full local queue, and a client that hangs up."""

from __future__ import annotations

import json
import threading
import time
from typing import TYPE_CHECKING

import httpx

from tests.helpers.fault_server import Reply, answer, pause
from tests.providers.support import add_provider

if TYPE_CHECKING:
    from app.core.context import AppContext
    from tests.gateway.conftest import Running
    from tests.helpers.fault_server import FaultServer

LOCAL_MODEL = "local/SmolLM2-135M-Instruct.Q4_1"


def body(model: str, max_tokens: int, stream: bool = True) -> dict[str, object]:
    return {"model": model, "max_tokens": max_tokens, "stream": stream, "temperature": 1.0,
            "messages": [{"role": "user", "content": "Tell me a very long story."}]}


class LocalStream:
    """A local streaming request in the background; `first` is set at its first chunk."""

    def __init__(self, gateway: Running, max_tokens: int) -> None:
        self.first = threading.Event()
        self.done_at: float | None = None
        self.thread = threading.Thread(target=self._run, args=(gateway, max_tokens))
        self.thread.start()

    def _run(self, gateway: Running, max_tokens: int) -> None:
        with httpx.stream("POST", f"{gateway.base_url}/chat/completions", timeout=300,
                          headers=gateway.headers, json=body(LOCAL_MODEL, max_tokens)) as resp:
            for line in resp.iter_lines():
                if line.startswith("data: {") and '"content"' in line:
                    self.first.set()
        self.done_at = time.monotonic()


def test_a_cloud_request_is_not_held_behind_a_local_one(
    ctx: AppContext, gateway: Running, fault: FaultServer
) -> None:
    add_provider(ctx, "cloud", "openai", fault.base_url)
    fault.script(Reply.stream(answer("quick", " answer")))
    local = LocalStream(gateway, max_tokens=300)
    assert local.first.wait(60)
    resp = httpx.post(f"{gateway.base_url}/chat/completions", headers=gateway.headers,
                      json=body("cloud/smollm2", 16, stream=False), timeout=30)  # fmt: skip
    cloud_done = time.monotonic()
    local.thread.join(300)
    assert resp.json()["choices"][0]["message"]["content"] == "quick answer"
    assert local.done_at is not None and cloud_done < local.done_at


def test_a_full_local_queue_answers_429_with_retry_after(ctx: AppContext, gateway: Running) -> None:
    ctx.gateway.lane.max_waiting = 0
    local = LocalStream(gateway, max_tokens=200)
    assert local.first.wait(60)
    resp = httpx.post(f"{gateway.base_url}/chat/completions", headers=gateway.headers,
                      json=body(LOCAL_MODEL, 8, stream=False), timeout=30)  # fmt: skip
    local.thread.join(300)
    assert resp.status_code == 429
    assert int(resp.headers["retry-after"]) >= 1
    assert resp.json()["error"]["code"] == "local_queue_full"


def test_a_client_that_disconnects_cancels_its_generation(
    ctx: AppContext, gateway: Running
) -> None:
    with httpx.stream("POST", f"{gateway.base_url}/chat/completions", timeout=60,
                      headers=gateway.headers, json=body(LOCAL_MODEL, 4000)) as resp:
        seen = 0
        for line in resp.iter_lines():
            seen += line.startswith("data: {")
            if seen >= 4:
                break  # leaving the block hangs up
    left = time.monotonic()
    while not ctx.ledger.rows() and time.monotonic() - left < 30:
        time.sleep(0.02)  # polling the ledger for the row the generation writes when it ends
    row = ctx.ledger.rows()[0]
    assert row.outcome == "stopped"
    assert row.completion_tokens < 400
    assert time.monotonic() - left < 10


def test_a_cloud_stream_passes_through_while_the_provider_is_still_writing(
    ctx: AppContext, gateway: Running, fault: FaultServer
) -> None:
    add_provider(ctx, "cloud", "openai", fault.base_url)
    steps = answer("first", " second")
    fault.script(Reply.stream(steps[0], pause(1.5), *steps[1:]))
    start = time.monotonic()
    first_at = None
    with httpx.stream("POST", f"{gateway.base_url}/chat/completions", timeout=30,
                      headers=gateway.headers, json=body("cloud/smollm2", 16)) as resp:
        texts = []
        for line in resp.iter_lines():
            if line.startswith("data: {"):
                delta = json.loads(line[6:])["choices"]
                if delta and (text := delta[0]["delta"].get("content")):
                    first_at = first_at or time.monotonic() - start
                    texts.append(text)
    assert texts == ["first", " second"]
    assert first_at is not None and first_at < 1.0  # not buffered until the pause ends
