"""The HF kind against a server on 127.0.0.1 (the router's OpenAI wire format); the router list."""

from __future__ import annotations

import json
import threading
from dataclasses import replace
from typing import TYPE_CHECKING

import pytest

from app.core.llm.targets import Target
from app.core.providers import (
    AuthError,
    MissingKeyError,
    ProviderKind,
    StreamErrorEvent,
    parse_offers,
    routed_model,
)
from tests.helpers.fault_server import Reply, answer, delta, event
from tests.providers.support import KEY, add_provider, drain, result_of

if TYPE_CHECKING:
    from app.core.context import AppContext
    from tests.helpers.fault_server import FaultServer

MODEL = "mistralai/Mistral-Small-3.2-24B-Instruct-2506"

ROUTER_MODELS = {
    "object": "list",
    "data": [
        {
            "id": MODEL,
            "object": "model",
            "providers": [
                {"provider": "together", "status": "live", "context_length": 131072,
                 "pricing": {"input": 0.1, "output": 0.3}, "throughput": 95.5,
                 "first_token_latency_ms": 310},
                {"provider": "newcomer", "status": "staging"},
            ],
        },
        {"id": "other/model", "providers": [{"provider": "x"}]},
    ],
}  # fmt: skip


@pytest.fixture
def hf(ctx: AppContext, fault: FaultServer) -> FaultServer:
    add_provider(ctx, "hf", "hf", fault.base_url)
    return fault


def test_routed_model_suffix() -> None:
    assert routed_model(MODEL, "cheapest") == f"{MODEL}:cheapest"
    assert routed_model(f"{MODEL}:groq", "fastest") == f"{MODEL}:groq"
    assert routed_model(MODEL, "") == MODEL


def test_hf_request_carries_policy_and_key(ctx: AppContext, hf: FaultServer) -> None:
    ctx.providers.update(replace(ctx.providers.get("hf"), hf_provider="cheapest"))
    usage = {"prompt_tokens": 9, "completion_tokens": 2, "total_tokens": 11}
    hf.script(Reply.stream(answer("Hi", "!", usage=usage, model=f"{MODEL}")))
    r = result_of(ctx, "hello", Target("hf", MODEL))
    assert (r.text, r.usage.prompt_tokens, r.usage.completion_tokens) == ("Hi!", 9, 2)
    assert r.usage.source.value == "reported"
    req = hf.chat_requests()[0]
    assert req.path == "/v1/chat/completions"
    assert req.headers["Authorization"] == f"Bearer {KEY}"
    body = json.loads(req.body)
    assert body["model"] == f"{MODEL}:cheapest"
    assert body["stream"] is True


def test_hf_retries_429_before_the_first_token(ctx: AppContext, hf: FaultServer) -> None:
    hf.script(Reply.error(429, headers={"Retry-After": "0"}), Reply.stream(answer("ok")))
    assert result_of(ctx, "hi", Target("hf", MODEL)).text == "ok"
    assert len(hf.chat_requests()) == 2


def test_hf_401(ctx: AppContext, hf: FaultServer) -> None:
    hf.script(Reply.error(401, "Invalid credentials in Authorization header"))
    with pytest.raises(AuthError, match="Invalid credentials"):
        drain(ctx.backends.get("hf").stream(_request(), threading.Event()))


def test_hf_error_inside_the_stream_keeps_partial(ctx: AppContext, hf: FaultServer) -> None:
    hf.script(Reply.stream(delta("Half"), event({"error": "Model overloaded",
                                                 "error_type": "overloaded"})))  # fmt: skip
    r = result_of(ctx, "hi", Target("hf", MODEL))
    assert (r.text, r.outcome.value) == ("Half", "error")
    assert r.error is not None
    assert "Model overloaded" in r.error
    hf.script(Reply.stream(event({"error": "boom"})))
    with pytest.raises(StreamErrorEvent):
        drain(ctx.backends.get("hf").stream(_request(), threading.Event()))


def test_hf_without_key(ctx: AppContext, fault: FaultServer) -> None:
    ctx.providers.add("hf", ProviderKind.HF, base_url=fault.base_url)
    with pytest.raises(MissingKeyError):
        ctx.backends.get("hf").prepare(MODEL)
    assert fault.requests == []


def test_router_offers_come_from_the_models_list(ctx: AppContext, hf: FaultServer) -> None:
    hf.models = ROUTER_MODELS
    offers = ctx.providers.offers("hf")
    assert [o.provider for o in offers] == ["together", "newcomer"]
    together = offers[0]
    assert (together.input_usd_per_m, together.output_usd_per_m) == (0.1, 0.3)
    assert (together.context_length, together.throughput) == (131072, 95.5)
    assert together.first_token_latency_ms == 310
    assert "$0.1/$0.3 per M" in together.summary
    assert offers[1].input_usd_per_m is None
    assert hf.requests[-1].headers["Authorization"] == f"Bearer {KEY}"


def test_parse_offers_tolerates_odd_payloads() -> None:
    assert parse_offers({"data": "nope"}, MODEL) == []
    assert parse_offers([], MODEL) == []
    assert parse_offers(ROUTER_MODELS, f"{MODEL}:fastest")[0].provider == "together"


def _request():  # type: ignore[no-untyped-def]
    from app.core.llm.contract import ChatMessage, GenerationRequest, Sampling

    return GenerationRequest((ChatMessage("user", "hi"),), Sampling(max_tokens=16), MODEL)
