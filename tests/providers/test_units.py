"""Byte-level pieces: the SSE decoder, chunk parsing, estimates, retry timing, exports."""

from __future__ import annotations

import pytest

import app.core.providers as providers
from app.core.llm.contract import ChatMessage
from app.core.providers import (
    MalformedStreamError,
    ProviderConfig,
    ProviderKind,
    RetryPolicy,
    StreamErrorEvent,
    estimate_prompt_tokens,
    estimate_tokens,
    is_loopback,
    url_origin,
)
from app.core.providers._common import retry_after_s, retry_delay
from app.core.providers._sse import SSEDecoder, parse_chunk


def _events(lines: list[str]) -> list[str]:
    decoder = SSEDecoder()
    out = [d for line in lines if (d := decoder.feed(line)) is not None]
    if (tail := decoder.flush()) is not None:
        out.append(tail)
    return out


def test_sse_decoder_skips_comments_and_joins_multiline_data() -> None:
    lines = [": keep-alive", "", "event: message", "data: {\"a\":", "data: 1}", "", "id: 7",
             "data:[DONE]", ""]  # fmt: skip
    assert _events(lines) == ['{"a":\n1}', "[DONE]"]


def test_sse_decoder_flushes_an_unterminated_event() -> None:
    assert _events(["data: x"]) == ["x"]


def test_parse_chunk_reads_text_usage_model_and_id() -> None:
    chunk = parse_chunk(
        '{"id":"r1","model":"m-2603","choices":[{"delta":{"content":"Hi"},"finish_reason":null}],'
        '"usage":{"prompt_tokens":3,"completion_tokens":1}}', "P"
    )  # fmt: skip
    assert (chunk.text, chunk.usage, chunk.model, chunk.chunk_id) == ("Hi", (3, 1), "m-2603", "r1")
    assert parse_chunk('{"choices":[],"usage":{"prompt_tokens":0,"completion_tokens":0}}',
                       "P").usage is None  # fmt: skip


@pytest.mark.parametrize(
    "payload", ['{"error":{"message":"x"}}', '{"object":"error","message":"x","type":"t"}']
)
def test_parse_chunk_raises_on_error_objects(payload: str) -> None:
    with pytest.raises(StreamErrorEvent, match=": x"):
        parse_chunk(payload, "P")


def test_parse_chunk_raises_on_garbage() -> None:
    with pytest.raises(MalformedStreamError, match="not valid JSON"):
        parse_chunk("<html>", "P")


def test_estimates_are_plausible_and_never_zero_for_text() -> None:
    assert estimate_tokens("") == 0
    assert estimate_tokens("Hello") == 1
    assert 8 <= estimate_tokens("The quick brown fox jumps over the lazy dog.") <= 12
    assert estimate_tokens("日本語のテキスト") >= 6
    assert estimate_prompt_tokens([ChatMessage("user", "Hello")]) > 1


def test_retry_timing() -> None:
    policy = RetryPolicy(attempts=3, max_wait_s=5.0, backoff_s=0.5)
    assert retry_delay(503, {}, 1, policy) == 0.5
    assert retry_delay(503, {}, 2, policy) == 1.0
    assert retry_delay(503, {}, 3, policy) is None  # out of tries
    assert retry_delay(429, {"retry-after": "2"}, 1, policy) == 2.0
    assert retry_delay(429, {"retry-after": "60"}, 1, policy) is None  # longer than we wait
    assert retry_delay(400, {}, 1, policy) is None
    assert retry_after_s({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0.0
    assert retry_after_s({"retry-after": "soon"}) is None


def test_origins_and_loopback() -> None:
    assert url_origin("https://API.mistral.ai/v1") == "https://api.mistral.ai:443"
    assert url_origin("http://127.0.0.1:8080/v1") == "http://127.0.0.1:8080"
    assert is_loopback("http://localhost:1/v1")
    assert is_loopback("http://[::1]:1/v1")
    assert not is_loopback("http://10.0.0.2/v1")


def test_config_never_serialises_a_key() -> None:
    c = ProviderConfig("m", ProviderKind.MISTRAL, "https://api.mistral.ai/v1", "x",
                       key_host="https://api.mistral.ai:443")  # fmt: skip
    assert c.to_dict()["has_key"] is True
    assert "key_host" not in c.to_dict()


def test_exported_members() -> None:
    assert providers.__all__ == sorted(providers.__all__, key=lambda n: (not n.isupper(), n))
    for name in providers.__all__:
        assert hasattr(providers, name), name


def test_set_key_never_takes_the_key_from_argv() -> None:
    from app import cli

    with pytest.raises(SystemExit) as info:
        cli.main(["providers", "set-key", "mi", "sk-in-argv"])
    assert info.value.code == 2
