"""Every provider kind's request contract against a server as strict as the real one, and
streams that end honestly: complete only with a finish reason or [DONE]."""

from __future__ import annotations

import json
import threading
import time
from typing import TYPE_CHECKING

import pytest

from app.core.llm.contract import ChatMessage, GenerationRequest, Outcome, Sampling, TokenSource
from app.core.llm.targets import Target
from app.core.providers import ConnectionDroppedError, ProviderError
from app.core.providers._sse import error_text
from tests.helpers.fault_server import HANG, Reply, delta
from tests.helpers.strict_server import USAGE, StrictServer
from tests.providers.support import add_provider, drain, result_of, run_cli

if TYPE_CHECKING:
    from collections.abc import Iterator

    from app.core.context import AppContext

KINDS = ["mistral", "openai", "hf"]
MODEL = {"mistral": "mistral-small-latest", "openai": "gpt-4o-mini",
         "hf": "mistralai/Mistral-Small-3.2-24B-Instruct-2506"}  # fmt: skip


@pytest.fixture(params=KINDS)
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def strict(kind: str) -> Iterator[StrictServer]:
    server = StrictServer(kind)
    yield server
    server.close()


@pytest.fixture
def target(ctx: AppContext, strict: StrictServer, kind: str) -> Target:
    add_provider(ctx, "p", kind, strict.base_url)
    return Target("p", MODEL[kind])


def test_every_kind_is_accepted_and_reports_usage(
    ctx: AppContext, strict: StrictServer, target: Target, kind: str
) -> None:
    r = result_of(ctx, "hello", target)
    assert (r.outcome, r.error, r.text) == (Outcome.DONE, None, "Strictly speaking.")
    assert (r.usage.prompt_tokens, r.usage.completion_tokens) == (12, 4)
    assert r.usage.source is TokenSource.REPORTED
    body = json.loads(strict.chat_requests()[0].body)
    assert ("stream_options" in body) is (kind != "mistral")


def test_a_conversation_with_a_failed_turn_is_still_accepted(
    ctx: AppContext, strict: StrictServer, target: Target
) -> None:
    from tests.providers.support import new_conversation, send

    cid = new_conversation(ctx, target)
    strict.script(Reply.error(503), Reply.error(503), Reply.error(503))
    assert send(ctx, cid, "first", target).result.outcome is Outcome.ERROR
    assert send(ctx, cid, "second", target).result.outcome is Outcome.DONE
    sent = json.loads(strict.chat_requests()[-1].body)["messages"]
    assert sent == [{"role": "user", "content": "first\n\nsecond"}]


def test_mistral_refuses_stream_options_with_its_own_error_shape() -> None:
    """The strict server is as strict as Mistral: what it says for a field it doesn't know."""
    import httpx

    server = StrictServer("mistral")
    try:
        resp = httpx.post(f"{server.base_url}/chat/completions", json={
            "model": "m", "messages": [{"role": "user", "content": "hi"}], "stream": True,
            "stream_options": {"include_usage": True}})  # fmt: skip
    finally:
        server.close()
    assert resp.status_code == 422
    body = resp.json()
    assert (body["object"], body["type"]) == ("error", "invalid_request_error")
    assert body["message"]["detail"][0]["type"] == "extra_forbidden"
    assert body["message"]["detail"][0]["loc"] == ["body", "stream_options"]


@pytest.mark.parametrize(
    ("body", "sentence"),
    [
        ({"object": "error", "message": {"detail": [{"type": "extra_forbidden",
          "loc": ["body", "stream_options", "include_usage"],
          "msg": "Extra inputs are not permitted", "input": True}]},
          "type": "invalid_request_error"},
         "stream_options.include_usage: Extra inputs are not permitted"),
        ({"error": {"message": "Unrecognized request argument supplied: foo",
                    "type": "invalid_request_error", "param": None, "code": None}},
         "Unrecognized request argument supplied: foo"),
        ({"object": "error", "message": "Invalid model: nope", "type": "invalid_model"},
         "Invalid model: nope"),
        ({"error": "Model is overloaded\n please retry", "error_type": "overloaded"},
         "Model is overloaded please retry"),
    ],
)  # fmt: skip
def test_provider_error_bodies_become_one_readable_sentence(body: object, sentence: str) -> None:
    assert error_text(body) == sentence


def test_an_unknown_field_reads_as_one_sentence(
    ctx: AppContext, strict: StrictServer, target: Target, kind: str
) -> None:
    strict.script()  # nothing scripted: the strict check answers
    request = GenerationRequest((ChatMessage("assistant", "no question"),),
                                Sampling(max_tokens=8), target.model)  # fmt: skip
    with pytest.raises(ProviderError) as info:
        drain(ctx.backends.get("p").stream(request, threading.Event()))
    message = str(info.value)
    assert "rejected the request" in message
    assert "Expected last role User" in message
    assert "{" not in message and "\n" not in message


@pytest.mark.usefixtures("cli_logging")
def test_cli_chat_with_a_mistral_provider_answers(ctx: AppContext) -> None:
    server = StrictServer("mistral")
    try:
        add_provider(ctx, "mi", "mistral", server.base_url)
        code, out, err = run_cli(["chat", "--backend", "mi", "--json", "Bonjour"])
    finally:
        server.close()
    assert code == 0, err
    answer = json.loads(out)
    assert answer["text"] == "Strictly speaking."
    assert (answer["prompt_tokens"], answer["completion_tokens"]) == (12, 4)
    assert answer["token_source"] == "reported"


# --- streams end honestly ----------------------------------------------------------------


def test_a_stream_cut_off_mid_answer_is_an_error_that_keeps_the_partial(
    ctx: AppContext, strict: StrictServer, target: Target
) -> None:
    strict.script(Reply.stream(delta("Two "), delta("chunks")))  # then the body just ends
    r = result_of(ctx, "hi", target)
    assert (r.outcome, r.text) == (Outcome.ERROR, "Two chunks")
    assert r.error is not None and "before the answer was complete" in r.error
    assert "partial answer is kept" in r.error


def test_an_empty_body_does_not_claim_a_partial_answer(
    ctx: AppContext, strict: StrictServer, target: Target
) -> None:
    strict.script(Reply.stream())
    with pytest.raises(ConnectionDroppedError) as info:
        drain(ctx.backends.get("p").stream(_request(target), threading.Event()))
    assert "partial answer" not in str(info.value)


def test_a_whole_json_answer_where_a_stream_was_asked_is_the_answer(
    ctx: AppContext, strict: StrictServer, target: Target
) -> None:
    completion = {
        "id": "cmpl-json-1", "object": "chat.completion", "model": "served-model",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "Whole answer."},
                     "finish_reason": "stop"}],
        "usage": USAGE,
    }  # fmt: skip
    strict.script(Reply(200, {"Content-Type": "application/json"}, json.dumps(completion).encode()))
    r = result_of(ctx, "hi", target)
    assert (r.outcome, r.error, r.text) == (Outcome.DONE, None, "Whole answer.")
    assert (r.usage.prompt_tokens, r.usage.completion_tokens) == (12, 4)
    assert r.usage.source is TokenSource.REPORTED
    assert (r.model, r.request_id) == ("served-model", "cmpl-json-1")


# --- Stop ---------------------------------------------------------------------------------


def test_stop_on_a_silent_stream_ends_within_200_ms(
    ctx: AppContext, strict: StrictServer, target: Target
) -> None:
    strict.script(Reply.stream(delta("Some"), delta(" text"), HANG))  # then silence
    cancel = threading.Event()
    gen = ctx.backends.get("p").stream(_request(target), cancel)
    assert next(gen) + next(gen) == "Some text"
    threading.Timer(0.3, cancel.set).start()
    pressed = time.monotonic() + 0.3
    with pytest.raises(StopIteration) as stop:
        next(gen)
    waited = time.monotonic() - pressed
    result = stop.value.value
    assert (result.outcome, result.text) == (Outcome.STOPPED, "Some text")
    assert waited < 0.2, f"Stop took {waited * 1000:.0f} ms"


def _request(target: Target) -> GenerationRequest:
    return GenerationRequest((ChatMessage("user", "hi"),), Sampling(max_tokens=16), target.model)
