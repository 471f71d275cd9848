"""The wire format alone: what a client may send, and stop sequences cut exactly."""

from __future__ import annotations

import json

import pytest

from app.core.gateway.openai_api import ApiError, ChunkWriter, parse_request
from app.core.gateway.stop_sequences import StopMatcher


def body(**fields: object) -> bytes:
    base: dict[str, object] = {"model": "auto", "messages": [{"role": "user", "content": "hi"}]}
    return json.dumps(base | fields).encode()


def test_a_plain_request_parses_with_openai_field_names() -> None:
    req = parse_request(body(
        stream=True, stream_options={"include_usage": True}, max_completion_tokens=64,
        temperature=0.2, top_p=0.9, stop=["\n\n"],
        messages=[{"role": "developer", "content": "Be brief."},
                  {"role": "user", "content": [{"type": "text", "text": "Hello "},
                                               {"type": "text", "text": "there"}]}],
    ))  # fmt: skip
    assert req.stream and req.include_usage
    assert (req.max_tokens, req.temperature, req.top_p, req.stop) == (64, 0.2, 0.9, ("\n\n",))
    assert [(m.role, m.content) for m in req.messages] == [
        ("system", "Be brief."), ("user", "Hello there")]


@pytest.mark.parametrize(("fields", "param"), [
    ({"model": ""}, "model"),
    ({"messages": []}, "messages"),
    ({"messages": [{"role": "tool", "content": "x"}]}, "messages[0].role"),
    ({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {}}]}]},
     "messages[0].content"),
    ({"tools": [{"type": "function"}]}, "tools"),
    ({"n": 2}, "n"),
    ({"temperature": 3}, "temperature"),
    ({"top_p": 0}, "top_p"),
    ({"max_tokens": 0}, "max_tokens"),
    ({"stream": "yes"}, "stream"),
    ({"stop": ["a", "b", "c", "d", "e"]}, "stop"),
])  # fmt: skip
def test_what_parley_cannot_honour_is_a_400_naming_the_field(
    fields: dict[str, object], param: str
) -> None:
    with pytest.raises(ApiError) as caught:
        parse_request(body(**fields))
    assert caught.value.status == 400
    assert caught.value.body()["error"]["param"] == param


def test_a_body_that_is_not_json_is_a_400() -> None:
    with pytest.raises(ApiError, match="not valid JSON"):
        parse_request(b"{nope")


def test_chunks_are_the_json_openai_sends() -> None:
    w = ChunkWriter("chatcmpl-1", 7, "local/m")
    event = w.content('say "hi"\n')
    assert event.startswith(b"data: ") and event.endswith(b"\n\n")
    chunk = json.loads(event[6:])
    assert chunk == {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 7,
                     "model": "local/m", "choices": [{"index": 0,
                     "delta": {"content": 'say "hi"\n'}, "logprobs": None,
                     "finish_reason": None}]}  # fmt: skip


def feed_all(stops: tuple[str, ...], deltas: list[str]) -> tuple[str, bool]:
    m = StopMatcher(stops)
    out = "".join(m.feed(d) for d in deltas)
    return out + m.flush(), m.stopped


def test_a_stop_sequence_split_across_deltas_is_cut_and_never_sent() -> None:
    assert feed_all(("END",), ["Hello E", "N", "D and more"]) == ("Hello ", True)


def test_a_false_start_of_a_stop_sequence_is_sent_after_all() -> None:
    assert feed_all(("END",), ["Hello EN", "ough said"]) == ("Hello ENough said", False)
    assert feed_all(("END",), ["ends with EN"]) == ("ends with EN", False)


def test_the_earliest_of_several_stop_sequences_wins() -> None:
    assert feed_all(("\n\n", "User:"), ["a User: b\n\nc"]) == ("a ", True)
