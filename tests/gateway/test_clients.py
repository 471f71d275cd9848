"""Real clients nobody here wrote, against the gateway: the `openai` package and curl."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from typing import TYPE_CHECKING

import httpx
import openai
import pytest

from app.core.providers import ProviderKind
from tests.helpers.llama_server import free_port
from tests.providers.support import KEY

if TYPE_CHECKING:
    from pathlib import Path

    from app.core.billing.ledger import UsageRow
    from app.core.context import AppContext
    from tests.gateway.conftest import Running
    from tests.helpers.llama_server import LlamaServer

LOCAL_MODEL = "local/SmolLM2-135M-Instruct.Q4_1"


def client_for(running: Running) -> openai.OpenAI:
    return openai.OpenAI(base_url=running.base_url, api_key=running.token, max_retries=0)


def only_row(ctx: AppContext) -> UsageRow:
    rows = ctx.ledger.rows()
    assert len(rows) == 1
    return rows[0]


def test_openai_streams_from_the_local_model_and_usage_matches_the_ledger(
    ctx: AppContext, gateway: Running
) -> None:
    client = client_for(gateway)
    stream = client.chat.completions.create(
        model=LOCAL_MODEL, messages=[{"role": "user", "content": "Name a colour."}],
        max_tokens=12, temperature=0, stream=True, stream_options={"include_usage": True},
        extra_headers={"X-Parley-Client": "my-editor", "X-Parley-Project": "website"},
    )  # fmt: skip
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    usage = chunks[-1].usage
    assert text.strip()
    assert usage is not None and usage.completion_tokens >= 1
    row = only_row(ctx)
    assert (row.backend, row.tag, row.client, row.project) == (
        "local", "gateway", "my-editor", "website")
    assert (row.prompt_tokens, row.completion_tokens) == (
        usage.prompt_tokens, usage.completion_tokens)
    assert row.token_source == "counted"  # llama.cpp's own tokenizer
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] in ("stop", "length")


def test_openai_without_streaming_gets_a_chat_completion(ctx: AppContext, gateway: Running) -> None:
    answer = client_for(gateway).chat.completions.create(
        model=LOCAL_MODEL, messages=[{"role": "user", "content": "Say yes."}], max_tokens=6,
    )  # fmt: skip
    assert answer.object == "chat.completion"
    assert answer.choices[0].message.role == "assistant"
    assert answer.choices[0].message.content
    assert answer.usage is not None
    row = only_row(ctx)
    assert row.completion_tokens == answer.usage.completion_tokens
    assert row.client == "default"  # the token's label when the client names nobody


def test_openai_through_the_gateway_to_a_real_cloud_server(
    ctx: AppContext, gateway: Running, llama: LlamaServer
) -> None:
    ctx.providers.add("box", ProviderKind.OPENAI, base_url=llama.base_url, model="smollm2")
    ctx.providers.set_key("box", KEY)
    client = client_for(gateway)
    assert "box/smollm2" in [m.id for m in client.models.list()]
    stream = client.chat.completions.create(
        model="box/smollm2", messages=[{"role": "user", "content": "Hello"}], max_tokens=8,
        temperature=0, stream=True, stream_options={"include_usage": True},
    )  # fmt: skip
    chunks = list(stream)
    usage = chunks[-1].usage
    assert usage is not None
    row = only_row(ctx)
    assert (row.backend, row.provider) == ("box", f"127.0.0.1:{llama.port}")
    assert (row.prompt_tokens, row.completion_tokens) == (
        usage.prompt_tokens, usage.completion_tokens)


def test_an_unknown_model_is_openais_404(gateway: Running) -> None:
    with pytest.raises(openai.NotFoundError, match="local/<name>"):
        client_for(gateway).chat.completions.create(
            model="nope/model", messages=[{"role": "user", "content": "x"}])


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_curl_without_or_with_a_wrong_token_gets_401(ctx: AppContext, gateway: Running) -> None:
    url = f"{gateway.base_url}/chat/completions"
    data = json.dumps({"model": LOCAL_MODEL, "max_tokens": 4,
                       "messages": [{"role": "user", "content": "x"}]})

    def curl(*headers: str) -> tuple[int, dict[str, object]]:
        args = ["curl", "-s", "-w", "\n%{http_code}", "-d", data, url]
        for h in headers:
            args += ["-H", h]
        out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
        body, _, status = out.rpartition("\n")
        return int(status), json.loads(body)

    status, body = curl()
    assert status == 401 and body["error"]["code"] == "missing_api_key"  # type: ignore[index]
    status, body = curl("Authorization: Bearer parley-not-the-token")
    assert status == 401 and body["error"]["code"] == "invalid_api_key"  # type: ignore[index]
    status, _ = curl(f"Authorization: Bearer {gateway.token}", "Content-Type: application/json")
    assert status == 200
    token_id = ctx.access_tokens.verify(gateway.token).id  # type: ignore[union-attr]
    ctx.access_tokens.revoke(token_id)
    status, _ = curl(f"Authorization: Bearer {gateway.token}")
    assert status == 401
    assert len(ctx.ledger.rows()) == 1  # only the authorised request reached a model


def serve(data_dir: Path, *args: str) -> subprocess.Popen[str]:
    env = dict(os.environ, PARLEY_DATA_DIR=str(data_dir))
    return subprocess.Popen([sys.executable, "-m", "app", "serve", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip


def test_parley_serve_from_the_cli_answers_the_openai_client_and_stops_on_sigterm(
    ctx: AppContext, secret_service: object
) -> None:
    if secret_service is None:  # the child can't see this process's in-memory keyring
        ctx.settings.set("secrets.plaintext_fallback", True)
    token = ctx.access_tokens.default()[1]
    port = free_port()
    proc = serve(ctx.root, "--port", str(port))
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == f"Parley gateway on http://127.0.0.1:{port}/v1"
        client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key=token,
                               max_retries=0)  # fmt: skip
        answer = client.chat.completions.create(
            model=LOCAL_MODEL, messages=[{"role": "user", "content": "Hi"}], max_tokens=4)
        assert answer.choices[0].message.content
    finally:
        proc.terminate()
        _out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert [(r.tag, r.completion_tokens) for r in ctx.ledger.rows()] == [
        ("gateway", answer.usage.completion_tokens if answer.usage else -1)]


def test_a_lan_bind_without_a_token_is_refused_at_start(ctx: AppContext) -> None:
    assert not ctx.access_tokens.any_active()
    proc = serve(ctx.root, "--host", "0.0.0.0", "--port", str(free_port()))
    _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 1
    assert "won't listen on 0.0.0.0 without an access token" in err


def test_a_taken_port_is_a_clear_error(ctx: AppContext, gateway: Running) -> None:
    port = gateway.server.port
    proc = serve(ctx.root, "--port", str(port))
    _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 1
    assert f"can't listen on 127.0.0.1:{port}" in err and "--port" in err


def test_parley_serve_token_prints_one_line_and_the_same_token_again(ctx: AppContext) -> None:
    from tests.providers.support import run_cli

    code, first, _ = run_cli(["serve", "token"])
    code2, second, _ = run_cli(["serve", "token"])
    assert code == code2 == 0
    assert first == second and first.count("\n") == 1 and first.startswith("parley-")
    assert ctx.access_tokens.verify(first.strip()) is not None
    stored = b"".join(p.read_bytes() for p in ctx.root.glob("parley.sqlite3*"))
    assert stored and first.strip().encode() not in stored  # only its SHA-256 is kept


def test_models_lists_local_providers_and_auto(ctx: AppContext, gateway: Running) -> None:
    ctx.providers.add("mist", ProviderKind.MISTRAL)
    ctx.providers.set_key("mist", KEY)
    resp = httpx.get(f"{gateway.base_url}/models", headers=gateway.headers)
    ids = [m["id"] for m in resp.json()["data"]]
    assert ids[:2] == ["auto", LOCAL_MODEL]
    assert "mist/mistral-small-latest" in ids
    start = time.monotonic()
    httpx.get(f"{gateway.base_url}/models", headers=gateway.headers)
    assert time.monotonic() - start < 1.0
