"""Every provider fault against a real HTTP server on 127.0.0.1: a clear message, nothing lost."""

from __future__ import annotations

import json
import threading
import time
from typing import TYPE_CHECKING

import pytest

from app.core.llm.contract import Outcome, TokenSource
from app.core.llm.targets import Target
from app.core.providers import (
    AuthError,
    ConnectFailedError,
    ConnectionDroppedError,
    EmptyAnswerError,
    MalformedStreamError,
    OutOfCreditsError,
    ProviderError,
    RateLimitError,
    ServerError,
    StreamErrorEvent,
    StreamTimeoutError,
    UnknownModelError,
)
from tests.helpers.fault_server import (
    DONE,
    DROP,
    HANG,
    Reply,
    answer,
    delta,
    event,
    raw,
    unresponsive_port,
)
from tests.providers.support import KEY, add_provider, drain, result_of, run_cli

if TYPE_CHECKING:
    from app.core.context import AppContext
    from tests.helpers.fault_server import FaultServer

T = Target("fs", "smollm2")


@pytest.fixture
def fs(ctx: AppContext, fault: FaultServer) -> FaultServer:
    add_provider(ctx, "fs", "openai", fault.base_url)
    return fault


def _backend_error(ctx: AppContext, fault: FaultServer, *replies: Reply) -> ProviderError:
    fault.script(*replies)
    backend = ctx.backends.get("fs")
    with pytest.raises(ProviderError) as info:
        drain(backend.stream(_request(), threading.Event()))
    return info.value


def _request():  # type: ignore[no-untyped-def]
    from app.core.llm.contract import ChatMessage, GenerationRequest, Sampling

    return GenerationRequest((ChatMessage("user", "hi"),), Sampling(max_tokens=16), "smollm2")


# --- statuses ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "error", "words"),
    [
        (401, AuthError, "refused the API key"),
        (403, AuthError, "refused the API key"),
        (402, OutOfCreditsError, "out of credits"),
        (404, UnknownModelError, "doesn't serve the model 'smollm2'"),
    ],
)
def test_status_errors_are_plain_and_not_retried(
    ctx: AppContext, fs: FaultServer, status: int, error: type[ProviderError], words: str
) -> None:
    err = _backend_error(ctx, fs, Reply.error(status, "upstream says no"))
    assert isinstance(err, error)
    assert words in str(err)
    assert "upstream says no" in str(err)
    assert len(fs.chat_requests()) == 1


def test_a_failed_turn_is_stored_with_its_message(ctx: AppContext, fs: FaultServer) -> None:
    fs.script(Reply.error(401, "bad key"))
    r = result_of(ctx, "hello", T)
    assert r.outcome is Outcome.ERROR
    assert r.error is not None
    assert "refused the API key" in r.error


def test_mistral_error_body_is_read(ctx: AppContext, fault: FaultServer) -> None:
    add_provider(ctx, "mi", "mistral", fault.base_url)
    body = {"object": "error", "message": "Invalid model: nope", "type": "invalid_model"}
    fault.script(Reply.error(404, body=body))
    r = result_of(ctx, "hi", Target("mi", "nope"))
    assert r.error is not None
    assert "Invalid model: nope" in r.error


@pytest.mark.parametrize("status", [500, 502, 503])
def test_5xx_is_retried_with_backoff_then_succeeds(
    ctx: AppContext, fs: FaultServer, status: int
) -> None:
    fs.script(Reply.error(status), Reply.stream(answer("fine")))
    r = result_of(ctx, "hi", T)
    assert r.outcome is Outcome.DONE
    assert r.text == "fine"
    assert len(fs.chat_requests()) == 2


def test_persistent_5xx_gives_up_after_the_allowed_tries(ctx: AppContext, fs: FaultServer) -> None:
    err = _backend_error(ctx, fs, *[Reply.error(503, "overloaded")] * 3)
    assert isinstance(err, ServerError)
    assert "after 3 tries" in str(err)
    assert len(fs.chat_requests()) == 3


def test_429_honours_retry_after(ctx: AppContext, fs: FaultServer) -> None:
    fs.script(Reply.error(429, headers={"Retry-After": "0.05"}), Reply.stream(answer("ok")))
    r = result_of(ctx, "hi", T)
    assert (r.outcome, r.text) == (Outcome.DONE, "ok")
    assert len(fs.chat_requests()) == 2


def test_429_without_retry_after_backs_off(ctx: AppContext, fs: FaultServer) -> None:
    fs.script(Reply.error(429), Reply.error(429), Reply.stream(answer("ok")))
    assert result_of(ctx, "hi", T).text == "ok"
    assert len(fs.chat_requests()) == 3


def test_429_with_a_long_retry_after_fails_at_once(ctx: AppContext, fs: FaultServer) -> None:
    err = _backend_error(ctx, fs, Reply.error(429, headers={"Retry-After": "120"}))
    assert isinstance(err, RateLimitError)
    assert "in 120 s" in str(err)
    assert len(fs.chat_requests()) == 1


# --- connecting -------------------------------------------------------------------


def test_connect_timeout(ctx: AppContext) -> None:
    with unresponsive_port() as port:
        add_provider(ctx, "slow", "openai", f"http://127.0.0.1:{port}/v1", connect_timeout_s=0.3)
        r = result_of(ctx, "hi", Target("slow", "smollm2"))
    assert r.error is not None
    assert "connecting timed out" in r.error


def test_connection_refused(ctx: AppContext, fault: FaultServer) -> None:
    url = fault.base_url
    fault.close()
    add_provider(ctx, "gone", "openai", url)
    with pytest.raises(ConnectFailedError, match="Couldn't reach"):
        drain(ctx.backends.get("gone").stream(_request(), threading.Event()))


# --- mid-stream faults: the partial answer is kept and marked --------------------


def test_read_timeout_mid_stream_keeps_the_partial_answer(ctx: AppContext, fs: FaultServer) -> None:
    ctx.providers.store.set_options("fs", read_timeout_s=0.3)
    fs.script(Reply.stream(delta("Hello"), delta(" wor"), HANG))
    r = result_of(ctx, "hi", T)
    assert r.outcome is Outcome.ERROR
    assert r.text == "Hello wor"
    assert r.error is not None
    assert "stopped sending in the middle" in r.error
    assert "partial answer is kept" in r.error
    assert len(fs.chat_requests()) == 1  # never retried after text arrived


def test_read_timeout_before_any_text(ctx: AppContext, fs: FaultServer) -> None:
    ctx.providers.store.set_options("fs", read_timeout_s=0.3)
    err = _backend_error(ctx, fs, Reply.stream(HANG))
    assert isinstance(err, StreamTimeoutError)
    assert "sent nothing in time" in str(err)


def test_dropped_connection_keeps_the_partial_answer(ctx: AppContext, fs: FaultServer) -> None:
    fs.script(Reply.stream(delta("Part"), delta("ial"), DROP))
    conv = ctx.store.create(target=str(T))
    from tests.providers.support import send

    r = send(ctx, conv.id, "hi", T).result
    assert (r.outcome, r.text) == (Outcome.ERROR, "Partial")
    assert r.error is not None
    assert "dropped in the middle of the answer" in r.error
    stored = ctx.store.messages(conv.id)[-1]
    assert (stored.content, stored.outcome) == ("Partial", "error")
    assert len(fs.chat_requests()) == 1


def test_stream_that_ends_without_finishing_is_a_drop(ctx: AppContext, fs: FaultServer) -> None:
    err = _backend_error(ctx, fs, Reply.stream(delta("cut")))
    assert isinstance(err, ConnectionDroppedError)


@pytest.mark.parametrize("bad", ["{not json", '"a string"', "[1, 2]"])
def test_malformed_chunk(ctx: AppContext, fs: FaultServer, bad: str) -> None:
    fs.script(Reply.stream(delta("Good"), event(bad), *answer("never")))
    r = result_of(ctx, "hi", T)
    assert (r.outcome, r.text) == (Outcome.ERROR, "Good")
    assert r.error is not None
    assert "stream chunk that is not" in r.error


def test_malformed_chunk_error_type(ctx: AppContext, fs: FaultServer) -> None:
    assert isinstance(_backend_error(ctx, fs, Reply.stream(event("{oops"))), MalformedStreamError)


def test_error_object_inside_the_stream(ctx: AppContext, fs: FaultServer) -> None:
    err_event = event({"error": {"message": "Provider returned error", "code": 502}})
    fs.script(Reply.stream(delta("Half"), err_event, DONE))
    r = result_of(ctx, "hi", T)
    assert (r.outcome, r.text) == (Outcome.ERROR, "Half")
    assert r.error is not None
    assert "Provider returned error" in r.error
    assert isinstance(_backend_error(ctx, fs, Reply.stream(err_event)), StreamErrorEvent)


def test_empty_answer(ctx: AppContext, fs: FaultServer) -> None:
    err = _backend_error(ctx, fs, Reply.stream(answer()))
    assert isinstance(err, EmptyAnswerError)
    assert "without writing anything" in str(err)


# --- usage accounting ----------------------------------------------------------------


def test_no_usage_is_estimated_never_zero(ctx: AppContext, fs: FaultServer) -> None:
    fs.script(Reply.stream(answer("Paris is the capital", " of France.")))
    r = result_of(ctx, "What is the capital of France?", T)
    # Issue 14: no tokenizer for this model, so the figures are labelled estimates.
    assert r.usage.source is TokenSource.ESTIMATED
    assert r.usage.prompt_tokens > 0
    assert r.usage.completion_tokens > 0
    row = ctx.ledger.rows()[0]
    assert (row.token_source, row.prompt_tokens > 0, row.completion_tokens > 0) == (
        "estimated", True, True,
    )  # fmt: skip


def test_usage_is_accepted_on_any_chunk(ctx: AppContext, fs: FaultServer) -> None:
    usage = {"prompt_tokens": 11, "completion_tokens": 3, "total_tokens": 14}
    fs.script(Reply.stream(delta("A", usage=usage), delta("B"), delta("", finish="stop"), DONE))
    r = result_of(ctx, "hi", T)
    assert (r.usage.prompt_tokens, r.usage.completion_tokens) == (11, 3)
    assert r.usage.source is TokenSource.REPORTED


def test_keepalive_comments_and_resolved_model(ctx: AppContext, fault: FaultServer) -> None:
    add_provider(ctx, "mi", "mistral", fault.base_url)
    usage = {"prompt_tokens": 5, "completion_tokens": 2}
    fault.script(
        Reply.stream(
            raw(": OPENROUTER PROCESSING\n\n"),
            delta("Bon", model="mistral-small-2603"),
            raw(": keep-alive\n\n"),
            delta("jour", model="mistral-small-2603"),
            delta("", model="mistral-small-2603", usage=usage, finish="stop"),
            DONE,
        )
    )
    r = result_of(ctx, "hi", Target("mi", "mistral-small-latest"))
    assert r.text == "Bonjour"
    assert r.model == "mistral-small-2603"  # what the alias resolved to, shown per answer
    assert r.provider == "mistral"
    assert r.request_id == "chatcmpl-fault-1"
    body = json.loads(fault.chat_requests()[0].body)
    assert body["stream"] is True
    assert "stream_options" not in body  # issue 13: Mistral answers 422 to fields it doesn't know
    assert fault.chat_requests()[0].headers["Authorization"] == f"Bearer {KEY}"


def test_the_next_answer_reuses_the_connection(ctx: AppContext, fs: FaultServer) -> None:
    # A new connection to a real provider costs TCP and TLS round trips before the next
    # answer can start: the body is read to its end after [DONE], so the next reuses it.
    for text in ("One", "Two", "Three"):
        fs.script(Reply.stream(answer(text)))
        assert result_of(ctx, "hi", T).text == text
    assert len({r.client_port for r in fs.chat_requests()}) == 1


def test_a_body_left_open_after_done_still_ends_the_answer(
    ctx: AppContext, fs: FaultServer
) -> None:
    fs.script(Reply.stream(answer("Hello"), raw("data: junk\n\n"), HANG),
              Reply.stream(answer("Again")))  # fmt: skip
    started = time.monotonic()
    r = result_of(ctx, "hi", T)
    assert (r.text, r.outcome, r.error) == ("Hello", Outcome.DONE, None)
    assert time.monotonic() - started < 2.0  # not the 60 s read timeout
    assert result_of(ctx, "hi", T).text == "Again"  # on a new connection


def test_cancel_before_first_token_stops(ctx: AppContext, fs: FaultServer) -> None:
    cancel = threading.Event()
    cancel.set()
    _, result = drain(ctx.backends.get("fs").stream(_request(), cancel))
    assert result.outcome is Outcome.STOPPED
    assert fs.chat_requests() == []


@pytest.mark.usefixtures("cli_logging")
def test_cli_chat_failure_is_one_line_and_exit_1(ctx: AppContext, fs: FaultServer) -> None:
    fs.script(Reply.error(402, "Your credit balance is too low"))
    code, _, err = run_cli(["chat", "--backend", "fs", "hello"])
    assert code == 1
    assert err.count("\n") == 1
    assert "out of credits" in err
    assert "credit balance is too low" in err
    fs.script(Reply.stream(delta("Part"), DROP))
    code, out, err = run_cli(["chat", "--backend", "fs", "hello"])
    assert (code, out.strip()) == (1, "Part")
    assert "dropped in the middle" in err
